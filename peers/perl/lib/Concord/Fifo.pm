package Concord::Fifo;
# The FIFO-pair transport (spec section 10.4) for Perl peers: a pair directory (0700) holding the FIFOs
# client-to-broker and broker-to-client (0600). Opens never create a file (no O_CREAT) and keep a
# descriptor only when fstat says FIFO (FIFO-2); the reading end opens first and the writing end is
# retried on ENXIO until a deadline (FIFO-3); directories and FIFOs not ours or open to group or
# others are refused (FIFO-7). Errors are Concord::Fifo::Error objects with a code.
use v5.36;
use Fcntl qw(O_RDONLY O_WRONLY O_NONBLOCK F_GETFL F_SETFL S_ISFIFO S_ISDIR);
use POSIX ();
use Errno qw(ENXIO ENOENT EINTR);
use Time::HiRes ();
use File::Spec;
use Concord::Protocol qw(:errors);

our $CLIENT_TO_BROKER = 'client-to-broker';
our $BROKER_TO_CLIENT = 'broker-to-client';

package Concord::Fifo::Error {
    use overload '""' => sub ($self, @) { "$self->{code}: $self->{message}" }, fallback => 1;
    sub new ($class, $code, $message) { bless { code => $code, message => $message }, $class }
    sub code ($self) { $self->{code} }
}

sub _fail ($code, $message) { die Concord::Fifo::Error->new($code, $message) }

# FIFO-7: owned by us, nothing for group or others.
sub check_private ($path, @st) {
    _fail('INSECURE', "$path is owned by uid $st[4], not by this process (uid $<)") if $st[4] != $<;
    _fail('INSECURE', sprintf('%s has mode %o, which grants access to group or others', $path, $st[2] & 07777)) if $st[2] & 077;
}

# FIFO-1: DIR must not exist; it is created 0700 with both FIFOs 0600 (chmod after, whatever the umask).
sub create_pair ($dir) {
    mkdir $dir, 0700 or _fail($!{EEXIST} ? 'IN_THE_WAY' : 'MKFIFO_FAILED', "cannot create $dir: $!");
    chmod 0700, $dir;
    for my $name ($CLIENT_TO_BROKER, $BROKER_TO_CLIENT) {
        my $path = "$dir/$name";
        POSIX::mkfifo($path, 0600) or _fail('MKFIFO_FAILED', "mkfifo $path: $!");
        chmod 0600, $path;
    }
    return $dir;
}

# Removes our two FIFOs and the directory; a regular file in their place, or anything else, stays.
sub remove_pair ($dir) {
    for my $name ($CLIENT_TO_BROKER, $BROKER_TO_CLIENT) {
        my $path = "$dir/$name";
        unlink $path if -p $path;
    }
    rmdir $dir;
}

# FIFO-2: sysopen without O_CREAT, non-blocking; the descriptor is kept only if it is a FIFO.
sub _open_checked ($path, $flags, $private) {
    sysopen(my $fh, $path, $flags | O_NONBLOCK) or return (undef, $! + 0);
    my @st = stat $fh;
    if (!S_ISFIFO($st[2])) {
        close $fh;
        _fail('NOT_FIFO', "$path is not a FIFO (a regular file is never used where a FIFO belongs)");
    }
    if ($private) { eval { check_private($path, @st); 1 } or do { my $e = $@; close $fh; die $e } }
    # Blocking from here on: this peer waits in select() and sysread(), one FIFO per direction.
    my $fl = fcntl($fh, F_GETFL, 0);
    fcntl($fh, F_SETFL, $fl & ~O_NONBLOCK);
    binmode $fh;
    return ($fh, 0);
}

# Opens the pair in DIR as side 'client' or 'broker': reading FIFO first, then the writing one,
# retried on ENXIO (no reader yet) with a growing pause until timeout_ms (FIFO-3).
# Returns ($read_fh, $write_fh).
sub open_pair ($dir, %o) {
    my $side = $o{side} // 'client';
    my $timeout_ms = $o{timeout_ms} // 5000;
    my $private = $o{private} // 1;
    my @st = lstat $dir or _fail('MISSING', "no pair directory $dir");
    _fail('NOT_FIFO', "$dir is not a directory") unless S_ISDIR($st[2]);
    check_private($dir, @st) if $private;
    my ($read_name, $write_name) = $side eq 'client' ? ($BROKER_TO_CLIENT, $CLIENT_TO_BROKER) : ($CLIENT_TO_BROKER, $BROKER_TO_CLIENT);
    my ($in, $err) = _open_checked("$dir/$read_name", O_RDONLY, $private);
    _fail($err == ENOENT ? 'MISSING' : 'OPEN_FAILED', "$dir/$read_name: " . ($err == ENOENT ? 'no FIFO there (it is never created by an open)' : do { local $! = $err; "$!" })) unless $in;
    my $deadline = Time::HiRes::time() + $timeout_ms / 1000;
    my $pause = 0.002;
    while (1) {
        my ($out, $werr) = _open_checked("$dir/$write_name", O_WRONLY, $private);
        return ($in, $out) if $out;
        if ($werr != ENXIO) {
            close $in;
            _fail($werr == ENOENT ? 'MISSING' : 'OPEN_FAILED', "$dir/$write_name: " . do { local $! = $werr; "$!" });
        }
        if (Time::HiRes::time() >= $deadline) {
            close $in;
            _fail(ERR_TIMEOUT, "$dir/$write_name: no reader opened it within $timeout_ms ms");
        }
        Time::HiRes::sleep($pause);
        $pause *= 2;
        $pause = 0.05 if $pause > 0.05;
    }
}

# A new pair inside a broker's directory (--fifo-dir), created under a dot name and renamed into
# place so the broker only sees it complete. Returns the pair's path.
sub create_pair_in ($parent) {
    my $tag = sprintf('%d-%06d', $$, int rand 1e6);
    my $staging = "$parent/.new-$tag";
    create_pair($staging);
    my $final = "$parent/c-perl-$tag";
    rename $staging, $final or do { my $e = "$!"; remove_pair($staging); _fail('OPEN_FAILED', "rename to $final: $e") };
    return $final;
}

1;
