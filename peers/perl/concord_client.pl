#!/usr/bin/env perl
# A Concord client for `conformance --listen`: connects to 127.0.0.1:PORT with Concord::Client,
# stays connected answering PINGs and faulty frames until the broker's SHUTDOWN (answered with
# SHUTDOWN_ACK) or the end of the connection, then exits 0. Logs go to STDERR.
#
#   npx conformance --listen 0 -- perl peers/perl/concord_client.pl --port {port}
use v5.36;
use FindBin;
use lib "$FindBin::Bin/lib";
use Getopt::Long qw(GetOptions);
use Concord::Client;

my ($port, $host, $client_id, $token, $log_level) = (undef, '127.0.0.1', undef, undef, 'info');
GetOptions('port=i' => \$port, 'host=s' => \$host, 'client-id=s' => \$client_id, 'token=s' => \$token, 'log-level=s' => \$log_level)
    && defined $port or die "usage: $0 --port N [--host H] [--client-id ID] [--token T] [--log-level L]\n";
$SIG{PIPE} = 'IGNORE';

my $client = Concord::Client->new(host => $host, port => $port, client_id => $client_id // "perl-client-$$",
                                  token => $token, name => 'concord-perl-client', log_level => $log_level);
my $stop = 0;
$SIG{INT} = $SIG{TERM} = sub { $stop = 1 };
eval { $client->connect; 1 } or do { print STDERR "concord_client: $@\n"; exit 1 };
$client->run(until => sub { $stop });
$client->close(drain_ms => 1000) if $stop;
print STDERR 'concord_client: closed (' . ($client->close_reason // 'signal') . ")\n";
exit 0;
