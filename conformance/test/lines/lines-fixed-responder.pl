#!/usr/bin/env perl
# An existing responder as such peers are written: it waits for one request, answers a fixed text
# ("status: OK, model2 ready"; with --no-final-lf without its LF) and exits. The harness runs it with
# --one-shot --reply-pattern.
use v5.36;
use FindBin;
use lib $FindBin::Bin;
use LinesPeer;

my $o = LinesPeer::options();
my $fh = LinesPeer::open_pipe($o->{request}, 'r'); # waits for the requester, however long
my $msg;
LinesPeer::within('reading the request', sub { $msg = LinesPeer::read_line($fh) }) or LinesPeer::fail(62, 'request timed out');
close $fh;
LinesPeer::logline('INFO', 'request of ' . length($msg) . ' bytes');
LinesPeer::within('writing the reply', sub {
    my $out = LinesPeer::open_pipe($o->{reply}, 'w');
    LinesPeer::write_line($out, 'status: OK, model2 ready');
    close $out;
}) or LinesPeer::fail(62, 'nobody read the reply');
exit 0;
