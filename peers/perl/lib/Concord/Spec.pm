package Concord::Spec;
# Locates spec/ relative to this module (or $ENV{CONCORD_SPEC_DIR}), makes the generated
# Concord::Protocol constants loadable, and reads the generated catalog (spec/generated/catalog.json,
# or $ENV{CONCORD_CATALOG}): every message type with its standalone payload schema. Entries are the
# catalog's records as spec/catalog.schema.json describes them; nothing of spec/'s authoring form is read.
use v5.36;
use File::Basename ();
use File::Spec ();

our $ROOT;
BEGIN {
    my $here = File::Basename::dirname(File::Spec->rel2abs(__FILE__));
    $ROOT = File::Spec->catdir($here, (File::Spec->updir) x 4);
    my $spec = $ENV{CONCORD_SPEC_DIR} // File::Spec->catdir($ROOT, 'spec');
    my $gen = File::Spec->catdir($spec, 'generated', 'perl');
    unshift @INC, $gen unless grep { $_ eq $gen } @INC;
}

sub spec_dir () { $ENV{CONCORD_SPEC_DIR} // File::Spec->catdir($ROOT, 'spec') }
sub repo_root () { $ROOT }

my ($catalog, $defs);

sub _read_json ($file) {
    require JSON::PP;
    open my $fh, '<:raw', $file or die "Concord::Spec: cannot read $file: $!\n";
    local $/;
    my $text = <$fh>;
    return JSON::PP->new->utf8->decode($text);
}

sub catalog_file () { $ENV{CONCORD_CATALOG} // File::Spec->catfile(spec_dir(), 'generated', 'catalog.json') }

my $doc;
sub _doc () { $doc //= _read_json(catalog_file()) }

# Shared schemas, resolved (payload schemas do not refer to them; kept for $refs of other origins).
sub defs () {
    $defs //= _doc()->{defs};
    return $defs;
}

# { by_code => {code => record}, by_name => {name => record} }
sub catalog () {
    return $catalog if $catalog;
    my (%by_code, %by_name);
    for my $m (@{ _doc()->{messages} }) {
        $by_code{ $m->{code} } = $m;
        $by_name{ $m->{name} } = $m;
    }
    $catalog = { by_code => \%by_code, by_name => \%by_name };
    return $catalog;
}

sub message_by_code ($code) { catalog()->{by_code}{$code} }
sub message_by_name ($name) { catalog()->{by_name}{$name} }

# Resolves {"$ref": "#/$defs/X"} chains.
sub resolve ($schema) {
    while (ref $schema eq 'HASH' && defined $schema->{'$ref'}) {
        (my $name = $schema->{'$ref'}) =~ s{^#/\$defs/}{};
        $schema = defs()->{$name} // die "Concord::Spec: unresolved \$ref $schema->{'$ref'}\n";
    }
    return $schema;
}

sub resolve_ref ($ref) {
    (my $name = $ref) =~ s{^#/\$defs/}{};
    return defs()->{$name} // die "Concord::Spec: unresolved \$ref $ref\n";
}

1;
