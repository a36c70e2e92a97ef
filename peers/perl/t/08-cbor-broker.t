# A Perl client offers CBOR first, so the reference broker negotiates it and a CBOR request from
# another peer reaches the client's handler (REQ-10); the client answers in JSON (ENC-1).
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use Concord::Client;
use Concord::Frame;
use Concord::Message qw(decode_message encode_frame);
use Concord::NDArray;

my ($pid, $port) = start_broker();
END { local $?; if ($pid) { kill "TERM", $pid; waitpid $pid, 0 } }
ok($port, 'the reference broker listens') or BAIL_OUT('no broker');

my $engine = Concord::Client->new(port => $port, client_id => 'perl-cbor-engine', role => 'engine', logger => sub { });
ok(eval { $engine->connect; 1 }, 'engine connects') or diag("$@");
is($engine->init_ack->{encoding}, 'cbor', 'CBOR negotiated: the client offered it first');
my $seen;
$engine->on(REASONING_REQUEST => sub ($payload, $m) {
    $seen = $m->{encoding};
    my $fired = Concord::NDArray->from_values('|b1', [768], [ map { $_ > 0.5 ? 1 : 0 } @{ $payload->{encoding}->values } ]);
    return { spike_count => scalar(grep { $_ } @{ $fired->values }), confidence => 0.5, firing_pattern => $fired,
             engine => 'perl', latency_ms => 1 };
});
my $epid = fork // die "fork: $!";
if ($epid == 0) {
    $engine->run(timeout_ms => 20000, until => sub { defined $seen });
    $engine->close(drain_ms => 500);
    POSIX::_exit(($seen // '') eq 'cbor' ? 0 : 1);
}
undef $engine;

# The sender speaks raw frames: INIT offering CBOR, then the request in CBOR.
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 20) or die "connect: $!";
binmode $sock;
my $decoder = Concord::Frame->new;
my @queued;
sub next_message () {
    my $until = Time::HiRes::time() + 30;
    my $s = IO::Select->new($sock);
    while (!@queued && Time::HiRes::time() < $until) {
        next unless $s->can_read(0.5);
        sysread($sock, my $chunk, 65536) or die "the broker closed the connection\n";
        push @queued, $decoder->push($chunk);
    }
    die "no frame within 30 s\n" unless @queued;
    return decode_message(shift @queued, encodings => ['json', 'cbor']);
}
print {$sock} encode_frame({ type => 'INIT', header => { id => '1' }, payload => {
    client_id => 'perl-cbor-sender', language => 'perl', role => 'client', protocol_version => '1.0',
    encodings => ['cbor', 'json'], max_frame => 16777216 } });
is(next_message()->{payload}{encoding}, 'cbor', 'the sender negotiated CBOR too');
my @values = map { ($_ % 7) / 6 } 0 .. 767;
my $vector = Concord::NDArray->from_values('<f4', [768], \@values);
print {$sock} encode_frame({ type => 'REASONING_REQUEST', header => { id => 'r1', dst => 'perl-cbor-engine' }, encoding => 'cbor',
                             payload => { encoding => $vector, context => 'cbor', source => 'perl' } });
my $answer = eval { next_message() };
ok($answer, 'an answer arrives') or diag("$@");
if ($answer) {
    is(join(' ', @$answer{qw(name encoding)}, $answer->{header}{re}), 'REASONING_RESPONSE json r1', 'the REASONING_RESPONSE, in JSON');
    is($answer->{payload}{spike_count}, scalar(grep { unpack('f', pack('f', $_)) > 0.5 } @values), 'the handler read all 768 values');
}
waitpid $epid, 0;
is($? >> 8, 0, 'the handler saw the request in CBOR');
close $sock;

done_testing;
