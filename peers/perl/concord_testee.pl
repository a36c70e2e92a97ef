#!/usr/bin/env perl
# Concord testee (spec section 15) for the Perl codec: INIT on standard output, then every frame
# from standard input answered with its echo (same type and encoding, a fresh id, re = the
# frame's id, the payload re-encoded from the decoded value) or with the ERROR of the first
# failing check. It declares JSON and CBOR (with the `cbor` feature, TST-2) when CBOR::XS is
# installed (Debian libcbor-xs-perl), JSON only otherwise; a frame in an encoding the harness's
# INIT_ACK did not choose gets UNSUPPORTED_ENCODING (ENC-3). Logs go to STDERR.
#
#   npx conformance --exec -- perl peers/perl/concord_testee.pl
#   npx conformance --suite testee --target fifo:DIR --exec -- perl peers/perl/concord_testee.pl --fifo {fifo}
# With --fifo PAIR_DIR the frames travel over that FIFO pair (section 10.4) instead of stdio.
use v5.36;
use FindBin;
use lib "$FindBin::Bin/lib";
use Concord::Spec;
use Concord::Protocol qw($PROTOCOL_VERSION :limits :names :errors);
use Concord::Frame;
use Concord::Message qw(decode_message encode_frame accepted_encodings);
use Concord::Payload;
use Concord::Error;
use Concord::Fifo;
use IO::Select;

binmode STDIN;
binmode STDOUT;
$| = 1;
$SIG{PIPE} = 'IGNORE'; # FIFO-5: a reader gone is EPIPE, an end, never a kill

# STDIO-3: the testee exits when its parent dies even while its input stays open; the read loop polls
# getppid() (it changes when the parent dies and the testee is re-parented). On Linux it also watches
# every ancestor, as reference/transport/parent.ts does: started through a launcher (a shell script,
# `env`), the process whose parent died is the launcher, which waits on the testee and never notices.
my $PARENT = getppid();
my $PARENT_POLL_S = 0.25;
my $MAX_ANCESTORS = 32; # a chain this deep is a bug, not a launcher

# The parent of PID from /proc/PID/stat, or undef when it is gone; read after the last ')', since the
# command name may hold spaces and parentheses.
sub parent_of {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/stat") or return undef;
    my $stat = <$fh>;
    close $fh;
    return undef unless defined $stat && $stat =~ /\)\s+\S+\s+(\d+)[^)]*$/;
    return $1;
}

# Each ancestor at start with the parent it had then, from the parent up to (not including) PID 1.
my @ANCESTRY;
for (my $pid = $PARENT; $pid > 1 && @ANCESTRY < $MAX_ANCESTORS;) {
    my $up = parent_of($pid);
    last unless defined $up;
    push @ANCESTRY, [$pid, $up];
    $pid = $up;
}

sub orphaned {
    return 1 if getppid() != $PARENT;
    for my $link (@ANCESTRY) {
        my $up = parent_of($link->[0]);
        return 1 if !defined $up || $up != $link->[1];
    }
    return 0;
}

my ($IN, $OUT) = (\*STDIN, \*STDOUT);
my ($fifo) = map { $ARGV[$_ + 1] } grep { $ARGV[$_] eq '--fifo' } 0 .. $#ARGV;
if (defined $fifo) {
    # The testee is the client side of the pair: it reads broker-to-client, writes client-to-broker.
    ($IN, $OUT) = eval { Concord::Fifo::open_pair($fifo, side => 'client', timeout_ms => 10_000) };
    if (!$IN) {
        print STDERR "concord_testee: cannot open the FIFO pair $fifo: $@\n";
        exit 1; # STDIO-3's rule for a failed start, over FIFOs too
    }
}

my $NAME = 'concord-perl-testee';
my $VERSION = '0.1.0';
my @ENCODINGS = Concord::Payload::encodings();
# Encodings accepted on this connection: what the INIT_ACK chose, and JSON always (ENC-1, ENC-3).
my @accepted = @ENCODINGS;
my $verbose = grep { $_ eq '--verbose' } @ARGV;

sub logmsg ($level, $msg) {
    my @t = gmtime;
    printf STDERR "[%04d-%02d-%02dT%02d:%02d:%02dZ] [%s] %s\n", $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0], $level, $msg;
}

my $closed = 0;
my $count = 0;
my $handshaken = 0;

sub out ($bytes) {
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($OUT, $bytes, length($bytes) - $off, $off);
        if (!defined $n) {
            next if $!{EINTR};
            logmsg('ERROR', "write failed: $!");
            exit 0;
        }
        $off += $n;
    }
}

sub close_output () {
    $closed = 1;
    close $OUT;
}

# Answers a fault with its ERROR (re when the frame's id was readable); closes after a closing one.
sub refuse ($e) {
    my %header = (id => 'err-' . ++$count);
    $header{re} = $e->frame_id if defined $e->frame_id;
    logmsg('INFO', "refused: $e") if $verbose;
    out(encode_frame({ type => NAME_ERROR, header => \%header, payload => $e->to_payload }));
    close_output() if $e->closes;
}

sub answer ($body) {
    my $m = eval { decode_message($body, encodings => \@accepted) };
    if (my $e = $@) {
        return refuse($e) if Concord::Error::is_error($e);
        return refuse(Concord::Error->new(ERR_INTERNAL, "decoder failure: $e"));
    }
    if (!$handshaken) {
        # The harness's INIT_ACK: the one frame a testee does not echo.
        $handshaken = $m->{name} eq NAME_INIT_ACK;
        if ($handshaken) {
            @accepted = accepted_encodings($m->{payload}{encoding});
            return;
        }
    }
    my $frame = eval {
        encode_frame({ type => $m->{name}, header => { id => 'echo-' . ++$count, re => $m->{header}{id} },
                       payload => $m->{payload}, encoding => $m->{encoding} });
    };
    if (my $e = $@) {
        # A value our decoder accepted but our encoder refuses is our own fault: say so.
        logmsg('ERROR', "cannot re-encode $m->{name}: $e");
        $frame = encode_frame({ type => NAME_ERROR, header => { id => 'err-' . ++$count, re => $m->{header}{id} },
                                payload => { code => ERR_INTERNAL, message => substr("$e", 0, 4000), definite => Concord::JSON::false() } });
    }
    out($frame);
}

out(encode_frame({
    type => NAME_INIT, header => { id => 'testee-init' },
    payload => {
        client_id => "testee-perl-$$", language => 'perl', role => 'testee', protocol_version => $PROTOCOL_VERSION,
        encodings => [@ENCODINGS], max_frame => LIMIT_MAX_FRAME, name => $NAME, version => $VERSION,
        features => [ grep { $_ eq 'cbor' } @ENCODINGS ],
    },
}));

my $decoder = Concord::Frame->new(max_frame => LIMIT_MAX_FRAME);
# FIFO-6: wait in select() first: a FIFO whose writer has not opened yet reads as end of file, but
# select() only reports it once a writer has come and gone.
my $select = IO::Select->new($IN);
while (!$closed) {
    last if orphaned(); # STDIO-3: the parent, or an ancestor, died
    next unless $select->can_read($PARENT_POLL_S);
    my $n = sysread($IN, my $chunk, 65536);
    if (!defined $n) {
        next if $!{EINTR};
        logmsg('ERROR', "read failed: $!");
        last;
    }
    last if $n == 0;
    my @bodies = eval { $decoder->push($chunk) };
    if (my $e = $@) {
        die $e unless Concord::Error::is_error($e);
        for my $body (@{ $e->frames_before }) { answer($body) unless $closed }
        refuse($e) unless $closed;
        last;
    }
    for my $body (@bodies) { answer($body) unless $closed }
}
logmsg('INFO', 'input ended inside a frame; the partial frame is discarded') if !$closed && $decoder->mid_frame;
close $OUT unless $closed;
exit 0;
