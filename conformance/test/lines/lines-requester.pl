#!/usr/bin/env perl
# Test requester of the legacy `lines` profile: reads one message from standard input, writes it to
# the request pipe (open, one write, close), reads the reply line from the reply pipe and prints it.
# Exit: 0 replied, 2 pipe missing or not a FIFO, 32 EPIPE, 62 timeout, 64 usage, 90 message above PIPE_BUF.
use v5.36;
use FindBin;
use lib $FindBin::Bin;
use LinesPeer;

my $o = LinesPeer::options();
binmode STDIN;
binmode STDOUT;
my $msg = do { local $/ = "\n"; scalar <STDIN> } // '';
chomp $msg;
LinesPeer::logline('INFO', 'sending a request of ' . length($msg) . ' bytes');
LinesPeer::within('request', sub {
    my $fh = LinesPeer::open_pipe($o->{request}, 'w');
    LinesPeer::write_line($fh, $msg);
    close $fh;
}) or LinesPeer::fail(62, 'no reader on the request pipe');
my $reply;
LinesPeer::within('reply', sub {
    my $fh = LinesPeer::open_pipe($o->{reply}, 'r');
    $reply = LinesPeer::read_line($fh);
    close $fh;
}) or LinesPeer::fail(62, 'no reply');
LinesPeer::logline('INFO', 'reply of ' . length($reply) . ' bytes');
print "$reply\n";
exit 0;
