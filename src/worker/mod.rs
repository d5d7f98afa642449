//! `kafkactl worker`: one consumer instance under systemd. So far the handler protocol it
//! speaks with the app's handler process; the consume loop lands with issue 4.

pub mod protocol;
