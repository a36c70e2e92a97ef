package Concord::Client;
# A synchronous Concord client over TCP (IO::Socket::INET, IO::Select): connect with retries and
# backoff, INIT/INIT_ACK, request() with a timeout, send() for notifications, handlers per type,
# PONG for every PING, faulty frames answered with the ERROR of the first failing check, never an
# ERROR for an ERROR, graceful close (SHUTDOWN, SHUTDOWN_ACK) and SHUTDOWN_ACK for the broker's
# SHUTDOWN. INIT offers CBOR, then JSON (CBOR where CBOR::XS is installed); incoming frames are read
# in whichever INIT_ACK allows, outgoing ones are JSON, which every peer accepts (ENC-1), so
# requests also reach peers that did not negotiate CBOR (REQ-10). Incoming frames are handled while the
# caller waits in connect(), request(), poll(), run() or close().
use v5.36;
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes ();
use Concord::Spec;
use Concord::Protocol qw($PROTOCOL_VERSION :limits :messages :names %ERRORS :errors);
use Concord::Frame;
use Concord::Message qw(decode_message encode_frame accepted_encodings client_encodings);
use Concord::Error;
use Concord::JSON;
use Concord::Fifo;
use Concord::Session;

sub new ($class, %o) {
    my $self = bless {
        host => $o{host} // '127.0.0.1', port => $o{port}, fifo_dir => $o{fifo_dir}, client_id => $o{client_id} // "perl-$$-" . int(rand(1e6)),
        role => $o{role} // 'client', name => $o{name} // 'concord-perl', version => $o{version} // '0.1.0',
        token => $o{token}, features => $o{features} // [], connect_retries => $o{connect_retries} // 5,
        backoff_ms => $o{backoff_ms} // LIMIT_RECONNECT_BACKOFF_BASE_MS, backoff_max_ms => $o{backoff_max_ms} // LIMIT_RECONNECT_BACKOFF_MAX_MS,
        language => $o{language} // 'perl', reconnect => $o{reconnect} // 0, on_connection => $o{on_connection},
        reconnect_attempts => $o{reconnect_attempts} // 0, session => Concord::Session->new, reconnects => 0,
        connect_timeout_ms => $o{connect_timeout_ms} // LIMIT_HANDSHAKE_TIMEOUT_MS,
        request_timeout_ms => $o{request_timeout_ms} // LIMIT_REQUEST_TIMEOUT_MS,
        shutdown_drain_ms => $o{shutdown_drain_ms} // LIMIT_SHUTDOWN_DRAIN_MS,
        logger => $o{logger} // \&_default_log, log_level => $o{log_level} // 'info',
        handlers => {}, pending => {}, answers => {}, abandoned => {}, seq => 0,
        sock => undef, decoder => undef, phase => 'new', close_reason => undef, init_ack => undef,
    }, $class;
    die "Concord::Client: port or fifo_dir is required\n" unless defined $self->{port} || defined $self->{fifo_dir};
    return $self;
}

my %LEVEL = (debug => 0, info => 1, warn => 2, error => 3);

sub _default_log ($level, $msg) {
    my @t = gmtime;
    printf STDERR "[%04d-%02d-%02dT%02d:%02d:%02dZ] [%s] %s\n", $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0], uc $level, $msg;
}

sub log ($self, $level, $msg) {
    $self->{logger}->($level, $msg) if $LEVEL{$level} >= ($LEVEL{ $self->{log_level} } // 1);
}

sub client_id ($self)    { $self->{client_id} }
sub init_ack ($self)     { $self->{init_ack} }
sub is_open ($self)      { $self->{phase} eq 'open' || $self->{phase} eq 'draining' }
sub close_reason ($self) { $self->{close_reason} }
sub next_id ($self)      { 'p' . $$ . '-' . ++$self->{seq} }
sub reconnects ($self)   { $self->{reconnects} }

# on(TYPE => sub ($payload, $message) { ... }): a request handler returns the response payload
# (or dies with a Concord::Error to answer ERROR); a notification handler's result is ignored.
sub on ($self, $type, $handler) { $self->{handlers}{$type} = $handler; return $self }

# ---- connection ----

sub connect ($self) {
    return $self->_connect_fifo if defined $self->{fifo_dir};
    my $attempt = 0;
    my $sock;
    while (1) {
        $sock = IO::Socket::INET->new(PeerHost => $self->{host}, PeerPort => $self->{port}, Proto => 'tcp',
                                      Timeout => $self->{connect_timeout_ms} / 1000);
        last if $sock;
        my $why = $@ || $!;
        die Concord::Error->new(ERR_PEER_GONE, "cannot connect to $self->{host}:$self->{port}: $why") if $attempt >= $self->{connect_retries};
        my $delay = $self->{backoff_ms} * 2**$attempt;
        $delay = $self->{backoff_max_ms} if $delay > $self->{backoff_max_ms};
        $delay *= 0.8 + 0.4 * rand();
        $attempt++;
        $self->log('info', "connect attempt $attempt failed ($why); retrying in " . int($delay) . ' ms');
        Time::HiRes::sleep($delay / 1000);
    }
    binmode $sock;
    $sock->autoflush(1);
    setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
    @$self{qw(sock decoder phase)} = ($sock, Concord::Frame->new(max_frame => LIMIT_MAX_FRAME), 'handshake');
    return $self->_handshake_after_connect($sock);
}

# Section 10.4: a new pair put into the broker's directory (fifo_dir), opened as the client side. The
# reading FIFO stands where the socket stands (select, sysread); frames are written to {out}.
sub _connect_fifo ($self) {
    my ($pair, $in, $out);
    eval {
        $pair = Concord::Fifo::create_pair_in($self->{fifo_dir});
        ($in, $out) = Concord::Fifo::open_pair($pair, side => 'client', timeout_ms => $self->{connect_timeout_ms});
        1;
    } or do {
        my $e = $@;
        Concord::Fifo::remove_pair($pair) if $pair;
        die Concord::Error->new(ERR_PEER_GONE, "cannot connect over FIFOs in $self->{fifo_dir}: $e");
    };
    @$self{qw(out fifo_pair)} = ($out, $pair);
    @$self{qw(sock decoder phase)} = ($in, Concord::Frame->new(max_frame => LIMIT_MAX_FRAME), 'handshake');
    return $self->_handshake_after_connect($in);
}

sub _handshake_after_connect ($self, $sock) {
    $self->{select} = IO::Select->new($sock);
    my $id = $self->next_id;
    my %init = (client_id => $self->{client_id}, language => $self->{language}, role => $self->{role}, protocol_version => $PROTOCOL_VERSION,
                encodings => [ client_encodings() ], max_frame => LIMIT_MAX_FRAME, name => $self->{name}, version => $self->{version},
                features => [ @{ $self->{features} } ]);
    $init{token} = $self->{token} if defined $self->{token};
    $self->{pending}{$id} = { type => NAME_INIT, response => NAME_INIT_ACK };
    $self->_write(encode_frame({ type => NAME_INIT, header => { id => $id }, payload => \%init }));
    my $answer = $self->_wait_answer($id, $self->{connect_timeout_ms});
    if ($answer->{name} ne NAME_INIT_ACK) {
        $self->_shut('refused');
        die _error_from($answer);
    }
    $self->{init_ack} = $answer->{payload};
    $self->{phase} = 'open';
    $self->log('info', "connected to $answer->{payload}{broker_id} as $self->{client_id}");
    return $self;
}

# ---- outgoing ----

# request(TYPE, PAYLOAD, dst => ..., timeout_ms => ...): the response message, or dies with a
# Concord::Error (the broker's ERROR, TIMEOUT, or PEER_GONE when the connection ends).
#
# With reconnect => 1, a lost connection is reopened (HS-23) by the next request(), send(), poll() or
# run(), waiting min(backoff_ms x 2^(r-1), backoff_max_ms) +-20 % before attempt r, and the bus
# subscriptions (same ids for the application), bus handlers and services are restored (HS-24);
# on_connection->(EVENT, INFO) is told 'lost', 'restored' ({ attempts, failures }) and 'gave-up'.
# A request in flight at the drop dies with PEER_GONE (HS-25).
sub request ($self, $type, $payload, %o) {
    $self->_ensure_open;
    my $answer = $self->_request($type, $self->{session}->outgoing($type, $payload), %o);
    $self->{session}->accepted($type, $payload, $answer->{payload});
    return $answer;
}

sub _request ($self, $type, $payload, %o) {
    my $info = Concord::Spec::message_by_name($type) or die "request: unknown type $type\n";
    die "request: $type is not a request type\n" unless $info->{kind} eq 'request' && $info->{response};
    die Concord::Error->new(ERR_SHUTTING_DOWN, "the client is " . ($self->{phase} eq 'closed' ? 'closed' : 'shutting down') . "; $type not sent")
        unless $self->{phase} eq 'open';
    my $id = $self->next_id;
    my %header = (id => $id, defined $o{dst} ? (dst => $o{dst}) : ());
    my $timeout = $o{timeout_ms} // $info->{timeout_ms} // $self->{request_timeout_ms};
    $self->{pending}{$id} = { type => $type, response => $info->{response} };
    $self->_write(encode_frame({ type => $type, header => \%header, payload => $payload }));
    my $answer = $self->_wait_answer($id, $timeout);
    die _error_from($answer) if $answer->{name} eq NAME_ERROR;
    return $answer;
}

# send(TYPE, PAYLOAD, dst => ...): a notification (or any frame without an awaited answer).
sub send ($self, $type, $payload, %o) {
    $self->_ensure_open;
    die Concord::Error->new(ERR_SHUTTING_DOWN, "the client is not open; $type not sent") unless $self->is_open;
    my $id = $o{id} // $self->next_id;
    $self->_write(encode_frame({ type => $type, header => { id => $id, defined $o{dst} ? (dst => $o{dst}) : (), defined $o{re} ? (re => $o{re}) : () },
                                 payload => $payload }));
    return $id;
}

sub _error_from ($m) {
    my $p = $m->{payload} // {};
    my $code = exists $ERRORS{ $p->{code} // '' } ? $p->{code} : ERR_INTERNAL;
    my $e = Concord::Error->new($code, $p->{message} // 'error', %{ $p->{details} // {} });
    $e->{remote} = $p;
    return $e;
}

sub _write ($self, $bytes) {
    $self->{sock} or die Concord::Error->new(ERR_PEER_GONE, 'not connected');
    my $sock = $self->{out} // $self->{sock};
    my $off = 0;
    local $SIG{PIPE} = 'IGNORE';
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            $self->_shut('connection-lost');
            die Concord::Error->new(ERR_PEER_GONE, "write failed: $!");
        }
        $off += $n;
    }
}

# ---- the loop ----

# Handles incoming frames for at most $timeout_ms (undef: wait for one read). Returns false once closed.
sub poll ($self, $timeout_ms = undef) {
    $self->_ensure_open;
    return 0 unless $self->{sock};
    my @ready = $self->{select}->can_read(defined $timeout_ms ? $timeout_ms / 1000 : undef);
    return 1 unless @ready;
    my $n = sysread($self->{sock}, my $chunk, 65536);
    if (!defined $n) {
        return 1 if $!{EINTR} || $!{EAGAIN};
        $self->log('warn', "read failed: $!");
        $self->_shut('connection-lost');
        return 0;
    }
    if ($n == 0) {
        $self->log('info', 'the broker closed the connection' . ($self->{decoder}->mid_frame ? ' inside a frame' : ''));
        $self->_shut($self->{close_reason} // 'connection-lost');
        return 0;
    }
    my @bodies = eval { $self->{decoder}->push($chunk) };
    if (my $e = $@) {
        die $e unless Concord::Error::is_error($e);
        for my $body (@{ $e->frames_before }) { $self->_on_body($body); return 0 unless $self->{sock} }
        $self->_refuse($e, undef);
        return 0;
    }
    for my $body (@bodies) {
        $self->_on_body($body);
        return 0 unless $self->{sock};
    }
    return 1;
}

# Runs until the connection ends (or $o{until} returns true, or $o{timeout_ms} passes).
sub run ($self, %o) {
    my $deadline = defined $o{timeout_ms} ? Time::HiRes::time() + $o{timeout_ms} / 1000 : undef;
    $self->_ensure_open;
    while ($self->{sock}) {
        return 1 if $o{until} && $o{until}->();
        my $left = defined $deadline ? ($deadline - Time::HiRes::time()) * 1000 : 1000;
        return 0 if $left <= 0;
        $self->poll($left > 1000 ? 1000 : $left);
    }
    return 1;
}

sub _wait_answer ($self, $id, $timeout_ms) {
    my $deadline = Time::HiRes::time() + $timeout_ms / 1000;
    while (!exists $self->{answers}{$id}) {
        if (!$self->{sock}) {
            delete $self->{pending}{$id};
            die Concord::Error->new(ERR_PEER_GONE, 'the connection ended before the answer arrived');
        }
        my $left = ($deadline - Time::HiRes::time()) * 1000;
        if ($left <= 0) {
            my $p = delete $self->{pending}{$id};
            $self->{abandoned}{$id} = 1;
            die Concord::Error->new(ERR_TIMEOUT, "no answer to $p->{type} within $timeout_ms ms", timeout_ms => $timeout_ms);
        }
        $self->poll($left);
    }
    return delete $self->{answers}{$id};
}

# ---- incoming ----

sub _on_body ($self, $body) {
    my $m = eval { decode_message($body, encodings => [ accepted_encodings($self->{init_ack} && $self->{init_ack}{encoding}) ]) };
    if (my $e = $@) {
        die $e unless Concord::Error::is_error($e);
        return $self->_refuse($e, $body);
    }
    my $info = Concord::Spec::message_by_code($m->{type});
    my %dirs = map { $_ => 1 } @{ $info->{directions} };
    if (!$dirs{'broker-to-client'} && !$dirs{routed}) {
        return $self->_answer_error($m, ERR_UNEXPECTED_MESSAGE, "$m->{name} never travels from broker to client (REQ-6)");
    }
    my $kind = $info->{kind};
    if ($kind eq 'response' || $kind eq 'error') {
        my $re = $m->{header}{re};
        my $p = defined $re ? $self->{pending}{$re} : undef;
        if ($p && ($m->{name} eq $p->{response} || $m->{name} eq NAME_ERROR)) {
            delete $self->{pending}{$re};
            $self->{answers}{$re} = $m;
            # Frames behind the INIT_ACK in the same read belong to the open connection, with the
            # encoding it chose (a CBOR frame may follow it at once).
            if ($m->{name} eq NAME_INIT_ACK && $self->{phase} eq 'handshake') {
                $self->{phase} = 'open';
                $self->{init_ack} = $m->{payload};
            }
            return;
        }
        if (defined $re && delete $self->{abandoned}{$re}) {
            $self->log('debug', "late $m->{name} for $re discarded (REQ-16)");
            return;
        }
        if ($m->{name} eq NAME_ERROR) {
            $self->log('warn', 'ERROR from the broker: ' . ($m->{payload}{code} // '?') . ' ' . ($m->{payload}{message} // ''));
            return;    # never answer an ERROR (ERR-6)
        }
        return $self->_answer_error($m, ERR_UNEXPECTED_MESSAGE,
            $p ? "$m->{name} is not the response to request $re" : "$m->{name} answers no open request (REQ-5)");
    }
    if ($kind eq 'request') {
        return $self->_reply($m, NAME_PONG, undef) if $m->{name} eq NAME_PING;
        return $self->_on_shutdown($m) if $m->{name} eq NAME_SHUTDOWN;
        return $self->_answer_error($m, ERR_SHUTTING_DOWN, "$m->{name} arrived after SHUTDOWN (HS-13)") if $self->{phase} ne 'open';
        my $h = $self->{handlers}{ $m->{name} } or return $self->_answer_error($m, ERR_UNSUPPORTED, "no handler for $m->{name} (ERR-8)");
        my $result = eval { $h->($self->{session}->incoming($m->{name}, $m->{payload}), $m) };
        if (my $e = $@) {
            my $err = Concord::Error::is_error($e) ? $e : Concord::Error->new(ERR_INTERNAL, "handler failed: $e");
            return $self->_send_error($m->{header}{id}, $err);
        }
        my $ok = eval { $self->_reply($m, $info->{response}, $result); 1 };
        $self->_send_error($m->{header}{id}, Concord::Error->new(ERR_INTERNAL, "cannot encode the answer: $@")) unless $ok || !$self->{sock};
        return;
    }
    my $h = $self->{handlers}{ $m->{name} } or return $self->_answer_error($m, ERR_UNSUPPORTED, "no handler for $m->{name} (ERR-8)");
    eval { $h->($m->{payload}, $m); 1 } or $self->log('error', "$m->{name} handler failed: $@");
}

sub _reply ($self, $m, $type, $payload) {
    $self->_write(encode_frame({ type => $type, header => { id => $self->next_id, re => $m->{header}{id} }, payload => $payload }));
}

sub _answer_error ($self, $m, $code, $message) {
    my $e = Concord::Error->new($code, $message);
    $self->_send_error($m->{header}{id}, $e);
    $self->_shut('protocol-error') if $e->closes;
}

sub _send_error ($self, $re, $e) {
    my %header = (id => $self->next_id, defined $re ? (re => $re) : ());
    $self->_write(encode_frame({ type => NAME_ERROR, header => \%header, payload => $e->to_payload }));
}

# A frame that failed a check: its ERROR (never for a faulty ERROR, ERR-6), then close if it closes.
sub _refuse ($self, $e, $body) {
    my $is_error_frame = defined $body && length $body && ord($body) == MSG_ERROR;
    if ($is_error_frame) {
        $self->log('warn', "faulty ERROR frame from the broker: $e");
    } else {
        $self->log('info', "refused a frame: $e");
        eval { $self->_send_error($e->frame_id, $e) };
    }
    $self->_shut('protocol-error') if $e->closes;
}

# The broker's SHUTDOWN: nothing of ours is in flight while we wait synchronously, so the drain is
# immediate; SHUTDOWN_ACK, then close (HS-14, HS-15).
sub _on_shutdown ($self, $m) {
    $self->log('info', 'the broker sent SHUTDOWN' . (defined $m->{payload}{reason} ? ": $m->{payload}{reason}" : ''));
    $self->{phase} = 'draining';
    my $timed_out = 0;
    for my $id (keys %{ $self->{pending} }) {
        delete $self->{pending}{$id};
        $self->{abandoned}{$id} = 1;
    }
    eval { $self->_reply($m, NAME_SHUTDOWN_ACK, { drained => 0, timed_out => $timed_out }); 1 }
        or $self->log('warn', "could not send SHUTDOWN_ACK: $@");
    $self->_shut('shutdown');
}

# Graceful close: SHUTDOWN, keep answering until SHUTDOWN_ACK or drain_ms, then close.
sub close ($self, %o) {
    return unless $self->{sock};
    if ($self->{phase} eq 'open') {
        my $drain = $o{drain_ms} // $self->{shutdown_drain_ms};
        $self->{phase} = 'draining';
        my $id = $self->next_id;
        $self->{pending}{$id} = { type => NAME_SHUTDOWN, response => NAME_SHUTDOWN_ACK };
        my $ok = eval {
            $self->_write(encode_frame({ type => NAME_SHUTDOWN, header => { id => $id }, payload => { drain_ms => $drain + 0, %{ $o{reason} ? { reason => $o{reason} } : {} } } }));
            my $ack = $self->_wait_answer($id, $drain + 1000);
            $self->log('info', 'SHUTDOWN acknowledged') if $ack->{name} eq NAME_SHUTDOWN_ACK;
            1;
        };
        $self->log('warn', "no SHUTDOWN_ACK: $@") unless $ok;
    }
    $self->_shut('closed');
}

sub _shut ($self, $reason) {
    $self->{close_reason} //= $reason;
    $self->{phase} = 'closed';
    $self->_tell('lost', {}) if $self->{reconnect} && $self->{close_reason} eq 'connection-lost' && $self->{sock};
    if (my $sock = delete $self->{sock}) {
        if (my $out = delete $self->{out}) { CORE::close($out) } else { shutdown($sock, 1) }
        # Let the peer read what we wrote before the close (a reset could lose it).
        my $sel = IO::Select->new($sock);
        my $deadline = Time::HiRes::time() + 0.2;
        while ($sel->can_read(0.05) && Time::HiRes::time() < $deadline) { last unless sysread($sock, my $x, 65536) }
        CORE::close($sock);
        Concord::Fifo::remove_pair(delete $self->{fifo_pair}) if $self->{fifo_pair};
    }
}

# ---- reconnection (HS-23 .. HS-25) ----

sub _ensure_open ($self) {
    return unless $self->{reconnect} && $self->{phase} eq 'closed' && ($self->{close_reason} // '') eq 'connection-lost';
    my $attempt = 0;
    while (1) {
        $attempt++;
        my $delay = $self->{backoff_ms} * 2**($attempt - 1);
        $delay = $self->{backoff_max_ms} if $delay > $self->{backoff_max_ms};
        Time::HiRes::sleep($delay * (0.8 + 0.4 * rand()) / 1000);
        @$self{qw(phase close_reason init_ack)} = ('new', undef, undef);
        %{ $self->{pending} } = ();
        local $self->{connect_retries} = 0;
        last if eval { $self->connect; 1 };
        my $e = $@;
        # Refused connections and an id not yet released (HS-19) are retried; any other refusal is final.
        my $retry = Concord::Error::is_error($e) && ($e->code eq ERR_PEER_GONE || $e->code eq ERR_DUPLICATE_CLIENT_ID);
        @$self{qw(phase close_reason)} = ('closed', $retry ? 'connection-lost' : 'reconnect-failed');
        if (!$retry || ($self->{reconnect_attempts} && $attempt >= $self->{reconnect_attempts})) {
            $self->{close_reason} = 'reconnect-failed';
            $self->_tell('gave-up', { attempts => $attempt, error => $e });
            die $e;
        }
        $self->log('info', "reconnect attempt $attempt failed: $e");
    }
    my $failures = $self->{session}->restore(sub ($type, $payload) { $self->_request($type, $payload)->{payload} });
    $self->{reconnects}++;
    $self->_tell('restored', { attempts => $attempt, failures => $failures });
}

sub _tell ($self, $event, $info) {
    my $listener = $self->{on_connection} or return;
    eval { $listener->($event, $info); 1 } or $self->log('error', "on_connection failed: $@");
}

sub DESTROY ($self) { CORE::close($self->{sock}) if $self->{sock} }

1;
