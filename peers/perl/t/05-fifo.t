# The FIFO-pair transport (section 10.4) in Perl: Concord::Fifo's layout, modes and refusals, then two
# Perl clients exchanging a 64 KiB array (16 x PIPE_BUF) through the reference broker's --fifo-dir.
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use IO::Select;
use POSIX ();
use File::Temp ();
use Time::HiRes ();
use Concord::Client;
use Concord::Fifo;
use Concord::NDArray;

our $REPO;
my $tmp = File::Temp->newdir('concord-perl-fifo-XXXXXX', TMPDIR => 1);

# FIFO-1: 0700 directory, 0600 FIFOs, whatever the umask.
{
    my $old = umask 0;
    my $pair = Concord::Fifo::create_pair("$tmp/pair");
    umask $old;
    is((stat $pair)[2] & 07777, 0700, 'pair directory is 0700');
    for my $name ($Concord::Fifo::CLIENT_TO_BROKER, $Concord::Fifo::BROKER_TO_CLIENT) {
        ok(-p "$pair/$name", "$name is a FIFO");
        is((stat "$pair/$name")[2] & 07777, 0600, "$name is 0600");
    }
    # FIFO-3: nobody reads client-to-broker, so the writing open times out after its ENXIO retries.
    my $e = eval { Concord::Fifo::open_pair($pair, side => 'client', timeout_ms => 150); 1 } ? undef : $@;
    is(ref $e && $e->code, 'TIMEOUT', 'no reader: TIMEOUT after the ENXIO retries');
    Concord::Fifo::remove_pair($pair);
    ok(!-e $pair, 'remove_pair removes the pair');
}

# FIFO-2: a missing FIFO is never created; a regular file in its place is refused and left as it was.
{
    my $dir = "$tmp/broken";
    mkdir $dir, 0700 or die;
    my $e = eval { Concord::Fifo::open_pair($dir, side => 'client', timeout_ms => 100); 1 } ? undef : $@;
    is(ref $e && $e->code, 'MISSING', 'missing FIFO: MISSING');
    ok(!-e "$dir/$Concord::Fifo::BROKER_TO_CLIENT", 'and no file was created');
    open my $fh, '>', "$dir/$Concord::Fifo::BROKER_TO_CLIENT" or die;
    print $fh "keep\n";
    close $fh;
    chmod 0600, "$dir/$Concord::Fifo::BROKER_TO_CLIENT";
    $e = eval { Concord::Fifo::open_pair($dir, side => 'client', timeout_ms => 100); 1 } ? undef : $@;
    is(ref $e && $e->code, 'NOT_FIFO', 'regular file: NOT_FIFO');
    open $fh, '<', "$dir/$Concord::Fifo::BROKER_TO_CLIENT" or die;
    is(scalar <$fh>, "keep\n", 'the regular file is untouched');
    # FIFO-7: a directory open to others is refused.
    my $open = Concord::Fifo::create_pair("$tmp/open");
    chmod 0755, $open;
    $e = eval { Concord::Fifo::open_pair($open, side => 'client', timeout_ms => 100); 1 } ? undef : $@;
    is(ref $e && $e->code, 'INSECURE', 'directory 0755: INSECURE');
}

my $node = (grep { -x "$_/node" } split /:/, $ENV{PATH})[0];
SKIP: {
    skip 'node or tsx is not installed', 9 unless $node && -d "$REPO/node_modules/tsx";
    my $parent = "$tmp/broker";
    my ($pid, $err_r) = spawn_broker('--fifo-dir', $parent);
    END { local $?; if ($pid) { kill 'TERM', $pid; waitpid $pid, 0 } }
    my ($listening, $buf) = (0, '');
    my $sel = IO::Select->new($err_r);
    my $deadline = Time::HiRes::time() + 30;
    while (!$listening && Time::HiRes::time() < $deadline) {
        next unless $sel->can_read(0.5);
        last unless sysread($err_r, $buf, 4096, length $buf);
        $listening = 1 if $buf =~ /"msg":"listening"/;
    }
    ok($listening, 'the reference broker serves a FIFO directory') or BAIL_OUT('no broker');
    is((stat $parent)[2] & 07777, 0700, 'the broker created its directory 0700 (FIFO-9)');

    my $quiet = sub { };
    my $engine = Concord::Client->new(fifo_dir => $parent, client_id => 'perl-fifo-engine', role => 'engine', logger => $quiet);
    my $asker  = Concord::Client->new(fifo_dir => $parent, client_id => 'perl-fifo-asker', logger => $quiet);
    ok(eval { $engine->connect; 1 }, 'engine connects over FIFOs') or diag("$@");
    ok(eval { $asker->connect; 1 }, 'asker connects over FIFOs') or diag("$@");

    my $n = 16384; # 64 KiB of float32: 16 x PIPE_BUF in one frame, the pipe's whole default capacity
    my $seen;
    $engine->on(REASONING_REQUEST => sub ($payload, $m) {
        $seen = $m;
        return { spike_count => scalar @{ $payload->{encoding}->values }, confidence => 0.5, engine => 'perl',
                 firing_pattern => Concord::NDArray->from_values('|u1', [1], [1]),
                 activations => $payload->{encoding}, latency_ms => 0.5 };
    });
    my $epid = fork // die "fork: $!";
    if ($epid == 0) {
        $engine->run(timeout_ms => 30000, until => sub { defined $seen });
        $engine->close(drain_ms => 500);
        POSIX::_exit(defined $seen ? 0 : 1);
    }
    undef $engine;
    my @values = map { $_ % 1000 } 0 .. $n - 1;
    my $answer = eval { $asker->request(REASONING_REQUEST => { encoding => Concord::NDArray->from_values('<f4', [$n], \@values), context => 'fifo', source => 'perl' },
                                        dst => 'perl-fifo-engine', timeout_ms => 20000) };
    ok($answer, 'REASONING_RESPONSE received over FIFOs') or diag("$@");
    is($answer && $answer->{payload}{spike_count}, $n, "the engine saw all $n values");
    is_deeply($answer && $answer->{payload}{activations}->values, \@values, 'the 64 KiB array came back intact');
    waitpid $epid, 0;
    is($? >> 8, 0, 'the engine handled the request and closed');
    $asker->close(drain_ms => 500);
    my @left;
    for (1 .. 100) { opendir(my $d, $parent) or last; @left = grep { !/^\./ } readdir $d; last unless @left; Time::HiRes::sleep(0.02) }
    is(scalar @left, 0, 'both pairs are removed after the connections end (FIFO-8)');
}

done_testing;
