package LinesPeer;
# Shared parts of the test pair for the legacy `lines` profile (spec section 10.5): options, the log
# line `[TIMESTAMP] [LEVEL] MESSAGE`, per-phase timeouts in whole seconds (ALRM), and pipe opens.
# The broken variants the harness must flag are switched on by flags:
#   --world-writable   chmod 0666 both pipes at start (the seed's setup script did)
#   --create-regular   open the writing pipe with open '>' (O_CREAT): a regular file where it is missing
#   --no-size-limit    write messages longer than PIPE_BUF, whose concurrent writes interleave
#   --limit-without-lf count a message without its LF against PIPE_BUF (4,096 bytes go out as 4,097)
# Existing peers as they are (lines-fixed-responder.pl, lines-prefix-requester.pl):
#   --no-final-lf      write a message without its LF (the reader sees end of file)
#   --bare-output      print the reply without a final LF
use v5.36;
use Fcntl qw(O_RDONLY O_WRONLY);
use Getopt::Long qw(GetOptions);
use POSIX ();

our $PIPE_BUF = 4096;
our %opt = (timeout => 5);

sub options () {
    GetOptions(\%opt, 'request=s', 'reply=s', 'timeout=i', 'log=s', 'count=i', 'world-writable', 'create-regular', 'no-size-limit', 'limit-without-lf', 'no-final-lf', 'bare-output')
        or exit 64;
    defined $opt{request} && defined $opt{reply} or do { print STDERR "usage: --request PIPE --reply PIPE [--timeout S] [--log FILE]\n"; exit 64 };
    $SIG{PIPE} = 'IGNORE'; # FIFO-5: a reader that went away is EPIPE, handled, never a kill
    if ($opt{'world-writable'}) { chmod 0666, $opt{request}, $opt{reply} }
    return \%opt;
}

sub logline ($level, $msg) {
    return unless defined $opt{log};
    open my $fh, '>>', $opt{log} or return;
    my @t = localtime;
    printf $fh "[%04d-%02d-%02d %02d:%02d:%02d] [%s] %s\n", $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0], $level, $msg;
    close $fh;
}

sub fail ($code, $msg) {
    logline('ERROR', $msg);
    print STDERR "$msg\n";
    exit $code;
}

# Runs $code with a whole-second ALRM timeout; returns false on timeout.
sub within ($what, $code) {
    my $ok = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $opt{timeout};
        $code->();
        alarm 0;
        1;
    };
    alarm 0;
    return 1 if $ok;
    die $@ unless $@ eq "timeout\n";
    logline('WARN', "timeout after $opt{timeout} s: $what");
    return 0;
}

# Opens a pipe: never created (no O_CREAT) and refused unless it is a FIFO (FIFO-2). Blocks until the
# other side opens, so callers wrap it in within().
sub open_pipe ($path, $mode) {
    my $fh;
    if ($mode eq 'w' && $opt{'create-regular'}) {
        open($fh, '>', $path) or fail(2, "cannot open $path: $!");
    } else {
        sysopen($fh, $path, $mode eq 'w' ? O_WRONLY : O_RDONLY) or fail(2, "cannot open $path: $!");
    }
    fail(2, "$path is not a named pipe") unless -p $fh || $opt{'create-regular'};
    binmode $fh;
    return $fh;
}

# LINES-3: bytes up to the first LF or end of file; whatever follows is discarded.
sub read_line ($fh) {
    my $line = '';
    while (1) {
        my $n = sysread($fh, my $chunk, 65536);
        fail(5, "read failed: $!") unless defined $n;
        last if $n == 0;
        $line .= $chunk;
        last if index($line, "\n") >= 0;
    }
    $line =~ s/\n.*//s;
    return $line;
}

# LINES-2: the message and one LF in one write; LINES-10: never above PIPE_BUF.
sub write_line ($fh, $msg) {
    my $bytes = $opt{'no-final-lf'} ? $msg : "$msg\n";
    my $counted = $opt{'limit-without-lf'} ? length($msg) : length($bytes);
    fail(90, 'message of ' . length($bytes) . " bytes is above PIPE_BUF ($PIPE_BUF); not sent") if $counted > $PIPE_BUF && !$opt{'no-size-limit'};
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($fh, $bytes, length($bytes) - $off, $off);
        fail(32, "write failed: $!") unless defined $n;
        $off += $n;
    }
}

1;
