# A reference broker killed (SIGKILL, by PID) and started again on the same port under traffic
# (HS-23 .. HS-25): Perl clients with reconnect => 1 reopen the connection with backoff, tell the
# application, restore their bus subscription (same id for the application), bus handler and
# service; the request in flight at the drop dies with PEER_GONE and traffic carries on. The worker
# runs in a child process (the client is synchronous). Every wait is a hang guard.
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use Concord::Client;

our $REPO;
my $node = (grep { -x "$_/node" } split /:/, $ENV{PATH})[0];
plan skip_all => 'node is not installed' unless $node;
plan skip_all => 'tsx is not installed (npm ci)' unless -d "$REPO/node_modules/tsx";

my $BOUND = 30;    # seconds, hang guard of every wait
my $T0 = Time::HiRes::time();
sub elapsed ($what) { note sprintf('%s after %.1f s', $what, Time::HiRes::time() - $T0) }
my $port = do { my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die; my $p = $s->sockport; close $s; $p };

sub start_broker_on_port () {
    my ($pid, $err_r) = spawn_broker('--port', $port);
    my $sel = IO::Select->new($err_r);
    my $deadline = Time::HiRes::time() + 60;
    my $buf = '';
    while (Time::HiRes::time() < $deadline) {
        next unless $sel->can_read(0.5);
        last unless sysread($err_r, $buf, 4096, length $buf);
        return ($pid, $err_r) if $buf =~ /"msg":"listening"/;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    BAIL_OUT("the broker did not start on $port: $buf");
}

my ($bpid, $berr) = start_broker_on_port();
elapsed('broker up');
my ($wpid);
END { local $?; for my $p (grep { $_ } $wpid, $bpid) { kill 'KILL', $p; waitpid $p, 0 } }

# The worker: subscribes, registers a bus handler and a service, reports on a pipe, runs until killed.
pipe(my $from_worker, my $to_parent) or die "pipe: $!";
$wpid = fork // die "fork: $!";
if ($wpid == 0) {
    close $from_worker;
    $to_parent->autoflush(1);
    my $say = sub ($line) { print {$to_parent} "$line\n" };
    my $w = Concord::Client->new(port => $port, client_id => "perl-rc-worker-$$", reconnect => 1, logger => sub { },
                                 on_connection => sub ($event, $info) { $say->(join ' ', $event, $event eq 'restored' ? scalar @{ $info->{failures} } : ()) });
    $w->on(BUS_EVENT => sub ($p, $m) { $say->("event $p->{subscription_id} $p->{payload}"); {} });
    $w->on(BUS_QUERY => sub ($p, $m) {
        kill 'KILL', $bpid if $p->{message_type} eq 'rc.slow';    # the broker dies with this request in flight
        return { result => { echo => $p->{payload} } };
    });
    $w->on(SERVICE_DISPATCH => sub ($p, $m) { { result => { method => $p->{method} } } });
    $w->connect;
    my $sid = $w->request(BUS_SUBSCRIBE => { event_type => 'rc.tick' })->{payload}{subscription_id};
    $w->request(BUS_REGISTER_HANDLER => { message_type => $_, category => 'query' }) for qw(rc.echo rc.slow);
    $w->request(SERVICE_REGISTER => { service => { name => "perl-rc-svc-$$", service_type => 'test', version => '1.0.0', max_concurrent => 2 } });
    $say->("ready $sid $$");
    my $deadline = Time::HiRes::time() + 3 * $BOUND;
    while (Time::HiRes::time() < $deadline) { eval { $w->run(timeout_ms => 500); 1 } or last }
    POSIX::_exit(0);
}
close $to_parent;
my $sel = IO::Select->new($from_worker);
my $lines = '';
sub next_line ($pattern) {
    my $deadline = Time::HiRes::time() + $BOUND;
    while (Time::HiRes::time() < $deadline) {
        while ($lines =~ s/\A([^\n]*)\n//) { my $l = $1; return $l if $l =~ $pattern }
        next unless $sel->can_read(0.5);
        sysread($from_worker, $lines, 4096, length $lines) or last;
    }
    return undef;
}

my $ready = next_line(qr/^ready /);
ok($ready, 'the worker subscribed and registered') or BAIL_OUT('no worker');
my (undef, $sid, $worker_pid) = split ' ', $ready;
elapsed('worker ready');

my @events;
my $caller = Concord::Client->new(port => $port, client_id => "perl-rc-caller-$$", reconnect => 1, logger => sub { },
                                  on_connection => sub ($event, $info) { push @events, $event });
$caller->connect;
my $pings = 0;
for (1 .. 5) { $caller->request(PING => undef); $pings++ }
is($pings, 5, 'traffic before the restart');

my $err = eval { $caller->request(BUS_QUERY => { message_type => 'rc.slow', payload => 1 }, timeout_ms => $BOUND * 1000); undef } // $@;
ok(Concord::Error::is_error($err) && $err->code eq 'PEER_GONE', 'the request in flight at the drop dies with PEER_GONE (HS-25)') or diag("$err");
waitpid $bpid, 0;
elapsed('broker killed');
($bpid, $berr) = start_broker_on_port();
elapsed('broker up again');

is(next_line(qr/^restored/), 'restored 0', 'the worker reconnected and restored everything');
elapsed('worker restored');
is_deeply($caller->request(BUS_PUBLISH => { event_type => 'rc.tick', payload => 7 })->{payload}, { delivered => 1, failed => 0 }, 'the subscription is restored');
is(next_line(qr/^event /), "event $sid 7", 'the event carries the subscription id the worker was given');
is_deeply($caller->request(BUS_QUERY => { message_type => 'rc.echo', payload => 3 })->{payload}, { result => { echo => 3 } }, 'the bus handler is restored');
is_deeply($caller->request(SERVICE_DISPATCH => { service_name => "perl-rc-svc-$worker_pid", method => 'm', timeout_ms => 10000 })->{payload},
          { result => { method => 'm' }, attempts => 1 }, 'the service is restored');
is_deeply(\@events, [qw(lost restored)], 'the caller was told: lost, then restored');
is($caller->reconnects, 1, 'one reconnection');
$pings = 0;
for (1 .. 5) { $caller->request(PING => undef); $pings++ }
is($pings, 5, 'traffic carries on after the restart');
$caller->close(drain_ms => 500);
elapsed('done');
done_testing;
