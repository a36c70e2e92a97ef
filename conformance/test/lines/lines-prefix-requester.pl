#!/usr/bin/env perl
# An existing requester as such peers are written: it sends its message and prints the reply behind a
# prefix ("model1 got: REPLY", with --bare-output without a final LF). The harness runs it with
# --output-pattern '^model1 got: (.*)$'.
use v5.36;
use FindBin;
use lib $FindBin::Bin;
use LinesPeer;

my $o = LinesPeer::options();
binmode STDIN;
binmode STDOUT;
my $msg = do { local $/ = "\n"; scalar <STDIN> } // '';
chomp $msg;
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
print "model1 got: $reply", ($o->{'bare-output'} ? '' : "\n");
exit 0;
