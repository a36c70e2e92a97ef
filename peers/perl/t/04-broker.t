# Two Perl clients exchange a REASONING_REQUEST (768 float32) and its REASONING_RESPONSE through
# the reference broker (node --import tsx reference/cli.ts broker --port 0).
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use IO::Select;
use POSIX ();
use Time::HiRes ();
use Concord::Client;
use Concord::NDArray;

my ($pid, $port) = start_broker();
END { local $?; if ($pid) { kill "TERM", $pid; waitpid $pid, 0 } }
ok($port, "the reference broker listens (port " . ($port // '?') . ')') or BAIL_OUT('no broker');

my $quiet = sub { };
my $engine = Concord::Client->new(port => $port, client_id => 'perl-engine', role => 'engine', logger => $quiet);
my $asker  = Concord::Client->new(port => $port, client_id => 'perl-asker', logger => $quiet);
ok(eval { $engine->connect; 1 }, 'engine connects') or diag("$@");
ok(eval { $asker->connect; 1 }, 'asker connects') or diag("$@");
is($engine->init_ack->{encoding}, 'cbor', 'CBOR negotiated (offered first; the client writes JSON)');

my $seen;
$engine->on(REASONING_REQUEST => sub ($payload, $m) {
    $seen = $m;
    my $sum = 0;
    $sum += $_ for @{ $payload->{encoding}->values };
    return { spike_count => 7, confidence => unpack('f', pack('f', 0.85)), engine => 'perl',
             firing_pattern => Concord::NDArray->from_values('|u1', [4], [1, 0, 1, 1]),
             activations => Concord::NDArray->from_values('<f4', [1], [$sum]), latency_ms => 0.5 };
});

# The asker is synchronous, so the engine answers from a child process of its own.
my $epid = fork // die "fork: $!";
if ($epid == 0) {
    $engine->run(timeout_ms => 20000, until => sub { defined $seen });
    $engine->close(drain_ms => 500);
    POSIX::_exit(defined $seen ? 0 : 1);
}
undef $engine;

my @values = map { sin($_) / 2 } 0 .. 767;
my $vector = Concord::NDArray->from_values('<f4', [768], \@values);
my $answer = eval { $asker->request(REASONING_REQUEST => { encoding => $vector, context => 'perl test', source => 'perl' },
                                    dst => 'perl-engine', timeout_ms => 15000) };
ok($answer, 'REASONING_RESPONSE received') or diag("$@");
if ($answer) {
    is($answer->{name}, 'REASONING_RESPONSE', 'response type');
    is($answer->{header}{src}, 'perl-engine', 'src set by the broker');
    is($answer->{payload}{spike_count}, 7, 'spike_count');
    is($answer->{payload}{confidence}, unpack('f', pack('f', 0.85)), 'float32 confidence exact');
    is_deeply($answer->{payload}{firing_pattern}->values, [1, 0, 1, 1], 'firing_pattern');
    my $sum = 0;
    $sum += $_ for @{ $vector->values };
    is($answer->{payload}{activations}->values->[0], unpack('f', pack('f', $sum)), 'the engine saw all 768 float32 values');
}
waitpid $epid, 0;
is($? >> 8, 0, 'the engine handled the request and closed');
$asker->close(drain_ms => 500);
is($asker->close_reason, 'closed', 'graceful close with SHUTDOWN/SHUTDOWN_ACK');

done_testing;
