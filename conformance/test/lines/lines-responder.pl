#!/usr/bin/env perl
# Test responder of the legacy `lines` profile: waits for a request on the request pipe, reads it up to
# LF or end of file, and writes it back as the reply (open, one write, close). A phase that times out
# drops the exchange (no reply is left behind for a later reader). Serves --count exchanges, or forever.
use v5.36;
use FindBin;
use lib $FindBin::Bin;
use LinesPeer;

my $o = LinesPeer::options();
my $served = 0;
LinesPeer::logline('INFO', 'responder ready');
while (!defined $o->{count} || $served < $o->{count}) {
    my $fh = LinesPeer::open_pipe($o->{request}, 'r'); # waits for a requester, however long
    my $msg;
    my $ok = LinesPeer::within('reading the request', sub { $msg = LinesPeer::read_line($fh) });
    close $fh;
    next unless $ok;
    LinesPeer::logline('INFO', 'request of ' . length($msg) . ' bytes');
    LinesPeer::within('writing the reply', sub {
        my $out = LinesPeer::open_pipe($o->{reply}, 'w');
        LinesPeer::write_line($out, $msg);
        close $out;
    }) or next;
    $served++;
}
exit 0;
