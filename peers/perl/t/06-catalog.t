# The peer's only spec input is the generated catalog (spec/generated/catalog.json, or the file
# $CONCORD_CATALOG names), whose payload schemas are standalone.
use v5.36;
use Test::More;
use FindBin;
use File::Temp ();
use JSON::PP ();
BEGIN { require "$FindBin::Bin/lib.pl" }
use Concord::Spec;

like(Concord::Spec::catalog_file(), qr{generated[/\\]catalog\.json\z}, 'reads spec/generated/catalog.json');
my $init = Concord::Spec::message_by_name('INIT');
is($init->{code}, 1, 'INIT by name');
is(Concord::Spec::message_by_code(255)->{name}, 'ERROR', 'ERROR by code');
my $json = JSON::PP->new->canonical;
for my $m (values %{ Concord::Spec::catalog()->{by_name} }) {
    next unless $m->{payload};
    unlike($json->encode($m->{payload}), qr/"\$ref"/, "$m->{name}: payload schema without \$ref");
}

# CONCORD_CATALOG names another file: a fresh perl reads that one.
open my $in, '<:raw', Concord::Spec::catalog_file() or die $!;
my $doc = JSON::PP->new->utf8->decode(do { local $/; <$in> });
($_->{name} eq 'INIT') && ($_->{summary} = 'read from the copy') for @{ $doc->{messages} };
my $tmp = File::Temp->new(SUFFIX => '.json');
print {$tmp} JSON::PP->new->utf8->encode($doc);
close $tmp;
local $ENV{CONCORD_CATALOG} = $tmp->filename;
my $lib = "$FindBin::Bin/../lib";
my $out = `$^X -I$lib -MConcord::Spec -e 'print Concord::Spec::message_by_name(q(INIT))->{summary}'`;
is($out, 'read from the copy', 'CONCORD_CATALOG is honoured');

done_testing;
