# Every vector of fixtures/ndarray/arrays.json, every dtype in both byte orders, 0-d, empty, 32 dims.
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use Concord::Protocol qw(:ndarray);
use Concord::NDArray;

for my $v (@{ load_fixture('ndarray/arrays.json') }) {
    my $bytes = pack('H*', $v->{hex});
    if ($v->{result} eq 'valid') {
        my $a = eval { Concord::NDArray->unpack_layout($bytes) };
        ok($a, "$v->{id}: decodes") or diag("$@"), next;
        is(typed_diff($a->to_fixture->{'$ndarray'}, $v->{decoded}), undef, "$v->{id}: decoded value");
        my $packed = $a->pack_layout;
        if (!%{ $a->meta }) {
            is(unpack('H*', $packed), $v->{hex}, "$v->{id}: re-encodes to the same bytes");
        } else {
            is(typed_diff(Concord::NDArray->unpack_layout($packed)->to_fixture->{'$ndarray'}, $v->{decoded}), undef, "$v->{id}: round trip");
        }
        my $built = Concord::NDArray->from_fixture({ '$ndarray' => $v->{decoded} });
        is(unpack('H*', $built->bytes), unpack('H*', $a->bytes), "$v->{id}: built from its values, same data bytes");
    } else {
        my $rule = $v->{rule};    # the first rule broken in the check table's order (ARR-7)
        my $err = eval { Concord::NDArray->unpack_layout($bytes, '/x'); 1 } ? undef : $@;
        ok(ref $err, "$v->{id}: refused") or next;
        is($err->code, 'INVALID_ARRAY', "$v->{id}: INVALID_ARRAY");
        is($err->rule, $rule, "$v->{id}: rule $rule");
        is($err->path, '/x', "$v->{id}: path names the field");
    }
}

# Every dtype, both byte orders, exact extremes (64-bit integers exactly).
my %extremes = (
    bool => [1, 0, 1], int8 => [-128, 0, 127], uint8 => [0, 255, 7], int16 => [-32768, 258, 32767], uint16 => [0, 258, 65535],
    int32 => [-2147483648, 16909060, 2147483647], uint32 => [0, 16909060, 4294967295],
    int64 => ['-9223372036854775808', '72623859790382856', '9223372036854775807'],
    uint64 => ['0', '72623859790382856', '18446744073709551615'],
    float32 => [-1.5, 0.5, 3.4028234663852886e+38], float64 => [-1.5, 0.1, 1.7976931348623157e+308],
);
for my $code (sort keys %DTYPES) {
    my $name = $DTYPES{$code}[0];
    my $a = Concord::NDArray->from_values($code, [3], $extremes{$name});
    my $b = Concord::NDArray->unpack_layout($a->pack_layout);
    is($b->dtype, $code, "$code: dtype kept");
    my @got = map { "$_" } @{ $b->values };
    my @want = map { $name eq 'bool' ? ($_ ? 1 : 0) : "$_" } @{ $extremes{$name} };
    is_deeply(\@got, \@want, "$code: values round trip exactly");
}
{
    my $big = Concord::NDArray->from_values('>i2', [2, 3], [1 .. 6]);
    is(unpack('H*', $big->bytes), '000100020003000400050006', 'big-endian int16 in C order');
    my $zero = Concord::NDArray->unpack_layout(Concord::NDArray->from_values('<f8', [], [2.5])->pack_layout);
    is_deeply([$zero->ndim, $zero->size, @{ $zero->values }], [0, 1, 2.5], '0-d array');
    my $empty = Concord::NDArray->unpack_layout(Concord::NDArray->from_values('<i4', [2, 0, 3], [])->pack_layout);
    is_deeply([$empty->shape, $empty->size], [[2, 0, 3], 0], 'empty array');
    my $d32 = Concord::NDArray->from_values('|u1', [(1) x 32], [7]);
    is(Concord::NDArray->unpack_layout($d32->pack_layout)->ndim, 32, '32 dimensions');
    my $d33 = pack('Q<', 33) . pack('Q<', 1) x 33 . pack('Q<', 3) . '|u1' . pack('Q<', 1) . "\x07" . pack('Q<', 2) . '{}';
    my $e = eval { Concord::NDArray->unpack_layout($d33); 1 } ? undef : $@;
    is($e && $e->rule, 'ndim-range', '33 dimensions refused');
    my $meta = Concord::NDArray->from_values('<f4', [1], [1], { unit => 'V' });
    is_deeply(Concord::NDArray->unpack_layout($meta->pack_layout)->meta, { unit => 'V' }, 'meta kept');
    my $nan = Concord::NDArray->new(dtype => '<f4', shape => [1], bytes => pack('H*', '0100807f'));
    is(unpack('H*', Concord::NDArray->unpack_layout($nan->pack_layout)->bytes), '0100807f', 'NaN payload bits kept');
}

done_testing;
