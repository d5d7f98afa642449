//! The kafkactl binary; everything is in the library ([`kafkactl::run`]).

fn main() -> std::process::ExitCode {
    kafkactl::run()
}
