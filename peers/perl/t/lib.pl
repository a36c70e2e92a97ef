# Shared helpers for the tests: repository paths, fixture loading, typed-JSON comparison.
use v5.36;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP ();
use POSIX ();
use IO::Select;
use Time::HiRes ();
use Concord::Spec;
use Concord::JSON;

our $REPO = Concord::Spec::repo_root();

# Starts the reference broker (node + tsx) with @args; returns its pid and a handle on its stderr,
# where it logs one JSON line per event ("listening" when ready). Stdout goes to /dev/null.
sub spawn_broker (@args) {
    pipe(my $err_r, my $err_w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $err_r;
        open STDERR, '>&', $err_w or die;
        open STDOUT, '>', '/dev/null' or die;
        chdir $REPO or die;
        exec 'node', '--import', 'tsx', "$REPO/reference/cli.ts", 'broker', @args or POSIX::_exit(127);
    }
    close $err_w;
    return ($pid, $err_r);
}

# Starts the reference broker on a free port (skipping the test without node or tsx) and waits for
# its "listening" line; returns its pid and port (undef when it did not start within 30 s).
sub start_broker (@args) {
    my $node = (grep { -x "$_/node" } split /:/, $ENV{PATH})[0];
    Test::More::plan(skip_all => 'node is not installed') unless $node;
    Test::More::plan(skip_all => 'tsx is not installed (npm ci)') unless -d "$REPO/node_modules/tsx";
    my ($pid, $err_r) = spawn_broker('--port', '0', @args);
    my ($port, $buf) = (undef, '');
    my $sel = IO::Select->new($err_r);
    my $deadline = Time::HiRes::time() + 30;
    while (!$port && Time::HiRes::time() < $deadline) {
        next unless $sel->can_read(0.5);
        last unless sysread($err_r, $buf, 4096, length $buf);
        while ($buf =~ s/\A([^\n]*)\n//) {
            my $line = $1;
            $port = $1 if $line =~ /"msg":"listening"/ && $line =~ /"port":(\d+)/;
        }
    }
    return ($pid, $port);
}

sub load_fixture ($rel) {
    open my $fh, '<:raw', "$REPO/fixtures/$rel" or die "cannot read fixtures/$rel: $!";
    local $/;
    return JSON::PP->new->utf8->decode(scalar <$fh>)->{vectors};
}

# First difference between a decoded value and a typed-JSON expectation (undef when equal).
sub typed_diff ($got, $want, $path = '') {
    my $where = $path eq '' ? '/' : $path;
    if (ref $want eq 'HASH' && keys %$want == 1 && exists $want->{'$float'}) {
        my $f = $want->{'$float'};
        return undef if ref $got eq 'HASH' && ($got->{'$float'} // '') eq $f;
        return "$where: want \$float $f";
    }
    if (ref $want eq 'HASH' && keys %$want == 1 && exists $want->{'$bigint'}) {
        return undef if defined $got && !ref $got && "$got" eq $want->{'$bigint'};
        return "$where: want \$bigint $want->{'$bigint'}";
    }
    if (JSON::PP::is_bool($want)) {
        return undef if Concord::JSON::is_bool($got) && (!!$$got == !!$$want);
        return "$where: want boolean " . ($want ? 'true' : 'false');
    }
    if (!defined $want) { return defined $got ? "$where: want null" : undef }
    if (ref $want eq 'ARRAY') {
        return "$where: want an array of " . @$want unless ref $got eq 'ARRAY' && @$got == @$want;
        for my $i (0 .. $#$want) { my $d = typed_diff($got->[$i], $want->[$i], "$path/$i"); return $d if $d }
        return undef;
    }
    if (ref $want eq 'HASH') {
        return "$where: want an object" unless ref $got eq 'HASH';
        my $a = join "\0", sort keys %$got;
        my $b = join "\0", sort keys %$want;
        return "$where: keys differ ($a vs $b)" if $a ne $b;
        for my $k (sort keys %$want) { my $d = typed_diff($got->{$k}, $want->{$k}, "$path/$k"); return $d if $d }
        return undef;
    }
    if (Concord::JSON::is_number($want)) {
        return "$where: want number $want, got " . ($got // 'null') unless Concord::JSON::is_number($got) && $got == $want;
        return undef;
    }
    return "$where: want string '$want', got " . ($got // 'null') unless defined $got && !ref $got && !Concord::JSON::is_number($got) && $got eq $want;
    return undef;
}

1;
