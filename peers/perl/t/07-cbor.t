# CBOR payloads as strict as the reference codec (ENC-8, ENC-9, ENC-10, ENC-11, LIM-15, LIM-16): every RFC 8949
# Appendix A item as a value where the catalog allows any value, the faults CBOR::XS alone would
# let through or misread, and what the encoder (CBOR::XS) writes.
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use Concord::Spec;
use Concord::Payload;
use Concord::NDArray;
use Concord::Protocol qw(LIMIT_MAX_PAYLOAD_DEPTH LIMIT_MAX_PAYLOAD_ITEMS);

my $publish = Concord::Spec::message_by_name('BUS_PUBLISH');  # `payload` allows any value
my $state = Concord::Spec::message_by_name('STATE_UPDATE');   # uint64 `state_version`, ndarray `weights`

sub text ($s) { chr(0x60 + length $s) . $s }
# {"event_type": "e", "payload": ITEM} in CBOR.
sub publish ($item) { "\xa2" . text('event_type') . text('e') . text('payload') . $item }

# "CODE PATH RULE" of the refusal, or 'accepted'.
sub outcome ($m, $bytes) {
    my $e = eval { Concord::Payload::decode_payload($m, $bytes, 'cbor'); 1 } ? undef : $@;
    return 'accepted' unless $e;
    return "died: $e" unless ref $e;
    return join ' ', $e->code, $e->path // '-', $e->rule // '-';
}

# The first value outside the payload data model (its path), or undef, from a typed-JSON value.
sub first_fault ($d, $path = '/payload') {
    if (ref $d eq 'HASH') {
        return $path if grep { exists $d->{$_} } qw($tag $bytes $undefined $simple);
        return $d->{'$float'} eq '-0' ? undef : $path if exists $d->{'$float'};
        if (exists $d->{'$bigint'}) {
            my $n = $d->{'$bigint'};
            # 2^64-1 has no exact double value; -2^64 has one
            return $n eq '-18446744073709551616' || length($n =~ s/^-//r) < 16 ? undef : $path;
        }
        if (exists $d->{'$map'}) {
            for my $pair (@{ $d->{'$map'} }) {
                return $path unless !ref $pair->[0] && !Concord::JSON::is_number($pair->[0]);
                my $f = first_fault($pair->[1], "$path/$pair->[0]");
                return $f if defined $f;
            }
            return undef;
        }
        for my $k (sort keys %$d) { my $f = first_fault($d->{$k}, "$path/$k"); return $f if defined $f }
        return undef;
    }
    if (ref $d eq 'ARRAY') {
        for my $i (0 .. $#$d) { my $f = first_fault($d->[$i], "$path/$i"); return $f if defined $f }
    }
    return undef;
}

# ---- RFC 8949 Appendix A: refused with the path exactly when outside the data model ----
for my $v (@{ load_fixture('cbor/rfc8949-appendix-a.json') }) {
    my $item = pack('H*', $v->{hex});
    my $fault = (ord($item) >> 5) == 6 ? '/payload' : first_fault($v->{decoded}); # a tag, even a bignum written as $bigint
    my $got = outcome($publish, publish($item));
    if (defined $fault) {
        is($got, "INVALID_PAYLOAD $fault -", "$v->{id}: refused at $fault");
        next;
    }
    is($got, 'accepted', "$v->{id}: accepted") or next;
    my $value = Concord::Payload::decode_payload($publish, publish($item), 'cbor')->{payload};
    my $want = $v->{decoded};
    if (ref $want eq 'HASH' && exists $want->{'$float'}) {
        is(sprintf('%g', $value), '-0', "$v->{id}: -0 keeps its sign");
    } elsif (ref $want eq 'HASH' && exists $want->{'$bigint'}) {
        is($value, -18446744073709551616, "$v->{id}: -2^64 read exactly as a double (CBOR::XS reads 0)");
    } else {
        is(typed_diff($value, ref $want eq 'HASH' && exists $want->{'$map'} ? { map { @$_ } @{ $want->{'$map'} } } : $want), undef, "$v->{id}: value");
    }
}

# ---- what CBOR::XS alone would hide or misread ----
my %faults = (
    'a10102' => ['/payload', 'an integer map key (CBOR::XS makes it the string "1")'],
    'f0' => ['/payload', 'simple(16), named by its path (CBOR::XS croaks without one)'],
    '82f5f8ff' => ['/payload/1', 'simple(255) inside an array'],
    'c24101' => ['/payload', 'a bignum tag'],
    'd9d9f701' => ['/payload', 'the self-described CBOR tag 55799'],
    '1bffffffffffffffff' => ['/payload', '2^64-1 has no exact double value outside a 64-bit field'],
    'a1616b5f4101ff' => ['/payload/k', 'an indefinite-length byte string'],
);
for my $hex (sort keys %faults) {
    my ($path, $what) = @{ $faults{$hex} };
    is(outcome($publish, publish(pack('H*', $hex))), "INVALID_PAYLOAD $path -", $what);
}
for my $hex (qw(1c 5f01ff ff f818 7f6161 62c328 8201)) {
    is(outcome($publish, publish(pack('H*', $hex))), 'INVALID_PAYLOAD  -', "not well formed: $hex (ENC-8)");
}
is(outcome($publish, publish(pack('H*', '82f7'))), 'INVALID_PAYLOAD  -', 'a malformed item wins over an earlier data-model fault');

# ---- 64-bit fields: any CBOR integer, range checked by the schema (ENC-13) ----
my $weights = Concord::NDArray->from_values('<f4', [1, 1], [1]);
sub state_update ($version_item, $layer_item = "\x00") {
    my $w = $weights->pack_layout;
    my $tagged = "\xd9\xc0\xc0\x59" . pack('n', length $w) . $w;
    return "\xa3" . text('layer') . $layer_item . text('weights') . $tagged . text('state_version') . $version_item;
}
is(outcome($state, state_update("\x1b" . ("\xff" x 8))), 'accepted', 'uint64 2^64-1');
is(Concord::Payload::decode_payload($state, state_update("\x1b" . ("\xff" x 8)), 'cbor')->{state_version}, '18446744073709551615', 'read as its decimal string');
is(outcome($state, state_update("\x3b" . ("\xff" x 8))), 'SCHEMA_VIOLATION /state_version int64', '-2^64 in a uint64 field (CBOR::XS reads 0)');
is(outcome($state, state_update("\x3b\x80" . ("\x00" x 7))), 'SCHEMA_VIOLATION /state_version int64', '-2^63-1 (CBOR::XS reads 2^63-1)');
is(outcome($state, state_update("\x20")), 'SCHEMA_VIOLATION /state_version int64', '-1 in a uint64 field');
is(outcome($state, state_update(text('5'))), 'SCHEMA_VIOLATION /state_version int64', 'a text string in a 64-bit field');
is(outcome($state, state_update("\xf9\x40\x00")), 'accepted', 'an integral float is not told apart from an integer');
is(outcome($state, state_update("\x01", "\xf7")), 'INVALID_PAYLOAD /layer -', 'data model (step 6) before the schema (step 8)');

# ---- limits at and one past (LIM-15, LIM-16) ----
my $depth = LIMIT_MAX_PAYLOAD_DEPTH;
is(outcome($publish, publish(("\x81" x ($depth - 2)) . "\x80")), 'accepted', "nested $depth levels");
is(outcome($publish, publish(("\x81" x ($depth - 1)) . "\x80")), 'INVALID_PAYLOAD  max-depth', 'one level more');
my $items = LIMIT_MAX_PAYLOAD_ITEMS - 3; # the map, the event_type text and the array are values too
is(outcome($publish, publish("\x9a" . pack('N', $items) . ("\x00" x $items))), 'accepted', 'max_payload_items values');
is(outcome($publish, publish("\x9a" . pack('N', $items + 1) . ("\x00" x ($items + 1)))), 'INVALID_PAYLOAD  max-items', 'one value more');

# ---- the encoder: definite lengths, text keys, only the ndarray tag, 64-bit fields as integers ----
# Heads of every item: [initial byte, offset]; enough to audit lengths and tags.
sub heads ($bytes, $pos_ref, $out) {
    my $initial = ord substr($bytes, $$pos_ref++, 1);
    my ($major, $info) = ($initial >> 5, $initial & 31);
    push @$out, [$initial, $$pos_ref - 1];
    my $size = { 24 => 1, 25 => 2, 26 => 4, 27 => 8 }->{$info} // 0;
    my $arg = $size ? unpack({ 1 => 'C', 2 => 'n', 4 => 'N', 8 => 'Q>' }->{$size}, substr($bytes, $$pos_ref, $size)) : $info;
    $$pos_ref += $size;
    if ($major == 2 || $major == 3) { $$pos_ref += $arg }
    elsif ($major == 4 || $major == 5) { heads($bytes, $pos_ref, $out) for 1 .. $arg * ($major == 5 ? 2 : 1) }
    elsif ($major == 6) { heads($bytes, $pos_ref, $out) }
}
my $n = 12;
my $printed = "$n";  # a number once printed carries a string flag: still written as a number
my $negative_zero = -1e-320 * 1e-10; # a literal -0.0 is folded to 0
my $payload = { event_type => 'e', payload => { a => [1, 2.5, $negative_zero, undef, Concord::JSON::true(), 'x' x 40, $n, '12'], v => $weights } };
my $bytes = Concord::Payload::encode_payload($publish, $payload, 'cbor');
my @heads;
my $pos = 0;
heads($bytes, \$pos, \@heads);
is($pos, length $bytes, 'one item, nothing after it');
ok(!grep({ ($_->[0] & 31) == 31 } @heads), 'definite lengths only (ENC-9)');
is_deeply([ map { unpack('n', substr($bytes, $_->[1] + 1, 2)) } grep { $_->[0] >> 5 == 6 } @heads ], [49344], 'no tag but the ndarray tag (ENC-10)');
my $back = Concord::Payload::decode_payload($publish, $bytes, 'cbor')->{payload};
ok(Concord::JSON::is_number($back->{a}[6]) && !Concord::JSON::is_number($back->{a}[7]), 'a number stays a number, a numeric string a string');
is(sprintf('%g', $back->{a}[2]), '-0', '-0 keeps its sign (CBOR::XS alone writes it as the integer 0)');
is(unpack('H*', $back->{v}->pack_layout), unpack('H*', $weights->pack_layout), 'the ndarray round trips');
my $sv = Concord::Payload::encode_payload($state, { layer => 0, weights => $weights, state_version => '18446744073709551615' }, 'cbor');
like(unpack('H*', $sv), qr/6d73746174655f76657273696f6e1bffffffffffffffff/, 'a uint64 field is written as a CBOR unsigned integer (ENC-12)');

done_testing;
