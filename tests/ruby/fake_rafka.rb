# frozen_string_literal: true

# A tiny in-process server speaking RESP the way Rafka 0.6 answers the commands rafka-rb's
# consumer sends, for testing clients/ruby/rafka/batch.rb's fallback without building Rafka
# (docs/benchmarks.md: Rafka 0.6.2 is not fetchable here). What it reproduces, from Rafka's
# server.go:
# - CLIENT SETNAME <id> -> bulk "OK"; CLIENT GETNAME; PING -> "PONG"; QUIT -> "OK", close.
# - BLPOP topics:<t>[,<t>...][:<json>] <secs> -> the next message of the topics as Rafka's
#   8-element array (topic, partition as an integer, offset as an integer, value), or the null
#   array once <secs> passed (here: at most 0.2 s, tests stay fast).
# - RPUSH acks <t:p:o> -> 1; Rafka reads ONLY the first ack argument and ignores the rest, so
#   a multi-ack RPUSH would silently ack one partition: the drop-in must never send one here.
# - any other command -> "-Command not supported: <CMD>" (Rafka >= 0.4; before that the text
#   had no ": <CMD>"), and the connection stays open.
# Every command is recorded (#commands), so tests can see what went over the wire.

require "socket"

class FakeRafka
  Message = Struct.new(:topic, :partition, :offset, :value)

  attr_reader :port

  # messages: {topic => [[partition, value], ...]} in delivery order; offsets count per partition.
  def initialize(messages, unsupported_reply: "Command not supported: %s")
    @queue = []
    next_offset = Hash.new(0)
    messages.each do |topic, list|
      list.each do |partition, value|
        @queue << Message.new(topic, partition, next_offset[[topic, partition]], value)
        next_offset[[topic, partition]] += 1
      end
    end
    @unsupported_reply = unsupported_reply
    @commands = []
    @acks = []
    @lock = Mutex.new
    @server = TCPServer.new("127.0.0.1", 0)
    @port = @server.addr[1]
    @threads = []
    @acceptor = Thread.new { accept_loop }
  end

  # Every command received so far: [client name, ["CMD", "arg", ...]].
  def commands
    @lock.synchronize { @commands.dup }
  end

  # Acks Rafka would have stored: "topic:partition:offset".
  def acks
    @lock.synchronize { @acks.dup }
  end

  def close
    @server.close
    @acceptor.kill
    @threads.each(&:kill)
  end

  private

  def accept_loop
    loop do
      sock = @server.accept
      @threads << Thread.new(sock) { |s| serve(s) }
    end
  rescue IOError, Errno::EBADF
    nil
  end

  def serve(sock)
    name = nil
    while (cmd = read_command(sock))
      verb = cmd[0].to_s.upcase
      @lock.synchronize { @commands << [name, cmd] }
      case verb
      when "CLIENT"
        if cmd[1].to_s.casecmp?("SETNAME")
          name = cmd[2]
          bulk(sock, "OK")
        elsif cmd[1].to_s.casecmp?("GETNAME")
          bulk(sock, name.to_s)
        else
          sock.write("-CONS Command not supported\r\n")
        end
      when "PING" then bulk(sock, "PONG")
      when "QUIT"
        bulk(sock, "OK")
        break
      when "BLPOP" then blpop(sock, name, cmd)
      when "RPUSH"
        if cmd[1].to_s.casecmp?("acks")
          @lock.synchronize { @acks << cmd[2] } # Rafka: command.Get(2) only
          sock.write(":1\r\n")
        else
          sock.write("-CONS You can only RPUSH to the 'acks' key\r\n")
        end
      else
        sock.write("-#{@unsupported_reply.sub("%s", verb)}\r\n")
      end
    end
  rescue IOError, SystemCallError
    nil
  ensure
    sock.close unless sock.closed?
  end

  def blpop(sock, name, cmd)
    return sock.write("-CONS Identify yourself using CLIENT SETNAME first\r\n") if name.nil?

    topics = cmd[1].to_s.split(":", 3)[1].to_s.split(",")
    deadline = Time.now + [Integer(cmd[-1], exception: false) || 1, 0.2].min
    loop do
      msg = @lock.synchronize do
        i = @queue.index { |m| topics.include?(m.topic) }
        i && @queue.delete_at(i)
      end
      if msg
        sock.write("*8\r\n")
        bulk(sock, "topic")
        bulk(sock, msg.topic)
        bulk(sock, "partition")
        sock.write(":#{msg.partition}\r\n")
        bulk(sock, "offset")
        sock.write(":#{msg.offset}\r\n")
        bulk(sock, "value")
        bulk(sock, msg.value)
        return
      end
      return sock.write("*-1\r\n") if Time.now >= deadline

      sleep 0.01
    end
  end

  def bulk(sock, str)
    str = str.b
    sock.write("$#{str.bytesize}\r\n#{str}\r\n")
  end

  # One RESP array of bulk strings (what redis-rb sends), or nil at EOF.
  def read_command(sock)
    line = sock.gets("\r\n") or return nil
    raise IOError, "not a RESP array: #{line.inspect}" unless line.start_with?("*")

    Array.new(Integer(line[1..].chomp)) do
      len = Integer(sock.gets("\r\n")[1..].chomp)
      data = sock.read(len + 2)
      data[0, len]
    end
  end
end
