package Concord::NDArray;
# The binary array layout of decision D4 (spec section 5, spec/ndarray.json), every u64
# little-endian. An array keeps its elements as bytes in the byte order its dtype names, so a
# decoded array re-encodes to the same bytes (NaN payloads and -0 included); values() unpacks
# them with pack templates, 64-bit integers exactly as native quads.
use v5.36;
use Config;
use MIME::Base64 ();
use Concord::Spec;
use Concord::Protocol qw(:ndarray :limits :errors);
use Concord::Error;
use Concord::JSON;

die "Concord::NDArray needs a perl with 64-bit integers\n" unless ($Config{ivsize} // 0) >= 8;

# dtype code -> pack template of one element.
my %TEMPLATE;
for my $code (keys %DTYPES) {
    my ($name, $kind, $size) = @{ $DTYPES{$code} };
    my $order = substr($code, 0, 1);
    my $base = $kind eq 'b' ? 'C'
             : $kind eq 'f' ? ($size == 4 ? 'f' : 'd')
             : { 1 => 'c', 2 => 's', 4 => 'l', 8 => 'q' }->{$size};
    $base = uc $base if $kind eq 'u';
    $TEMPLATE{$code} = $size == 1 ? $base : $base . ($order eq '<' ? '<' : '>');
}

sub dtype_info ($code) { $DTYPES{$code} }

# The dtype code for a name and byte order ('little' or 'big').
sub dtype_code ($name, $order = 'little') {
    my @codes = sort grep { $DTYPES{$_}[0] eq $name } keys %DTYPES;
    die "dtype_code: unknown dtype $name\n" unless @codes;
    return $codes[0] if @codes == 1;
    my ($c) = grep { substr($_, 0, 1) eq ($order eq 'little' ? '<' : '>') } @codes;
    return $c;
}

# new(dtype => CODE, shape => [...], bytes => DATA, meta => {...}): raw element bytes.
sub new ($class, %a) {
    my $info = $DTYPES{ $a{dtype} // '' } or die "Concord::NDArray: unknown dtype " . ($a{dtype} // 'undef') . "\n";
    my @shape = @{ $a{shape} // [] };
    die "Concord::NDArray: " . scalar(@shape) . " dimensions exceed " . NDARRAY_MAX_NDIM . "\n" if @shape > NDARRAY_MAX_NDIM;
    my $size = 1;
    $size *= $_ for @shape;
    my $bytes = $a{bytes} // '';
    die "Concord::NDArray: " . length($bytes) . " data bytes do not fill shape [@shape] of $a{dtype}\n"
        if length($bytes) != $size * $info->[2];
    return bless { dtype => $a{dtype}, shape => \@shape, bytes => $bytes, meta => $a{meta} // {} }, $class;
}

# from_values(CODE, [shape], [values], {meta}): values are numbers, booleans (bool), or decimal
# strings / Math::BigInt for 64-bit integers.
sub from_values ($class, $dtype, $shape, $values, $meta = {}) {
    my $t = $TEMPLATE{$dtype} or die "Concord::NDArray: unknown dtype $dtype\n";
    my $kind = $DTYPES{$dtype}[1];
    my @v = map { ref $_ && $kind ne 'b' ? "$_" : $kind eq 'b' ? ($_ ? 1 : 0) : $_ } @$values;
    return $class->new(dtype => $dtype, shape => $shape, bytes => pack("$t*", @v), meta => $meta);
}

sub dtype ($self)  { $self->{dtype} }
sub shape ($self)  { $self->{shape} }
sub meta ($self)   { $self->{meta} }
sub bytes ($self)  { $self->{bytes} }
sub ndim ($self)   { scalar @{ $self->{shape} } }
sub name ($self)   { $DTYPES{ $self->{dtype} }[0] }
sub size ($self)   { length($self->{bytes}) / $DTYPES{ $self->{dtype} }[2] }

# Element values in C order: numbers (64-bit integers as native integers, bool as 0/1).
sub values ($self) { [ unpack("$TEMPLATE{ $self->{dtype} }*", $self->{bytes}) ] }

# The fixtures' typed-JSON notation: {"$ndarray": {dtype, shape, data, meta}}.
sub to_fixture ($self) {
    my ($name, $kind, $size) = @{ $DTYPES{ $self->{dtype} } };
    my @data = map {
        $kind eq 'b' ? ($_ ? Concord::JSON::true() : Concord::JSON::false())
      : $size == 8 && $kind ne 'f' ? "$_"
      : $kind eq 'f' && $_ != $_ ? { '$float' => 'NaN' }
      : $kind eq 'f' && $_ == 9**9**9 ? { '$float' => 'Infinity' }
      : $kind eq 'f' && $_ == -9**9**9 ? { '$float' => '-Infinity' }
      : $kind eq 'f' && $_ == 0 && sprintf('%g', $_) =~ /^-/ ? { '$float' => '-0' }
      : $_ + 0
    } @{ $self->values };
    return +{ NDARRAY_JSON_WRAPPER() => +{ dtype => $self->{dtype}, shape => [ map { $_ + 0 } @{ $self->{shape} } ], data => \@data, meta => $self->{meta} } };
}

# From the typed-JSON notation.
sub from_fixture ($class, $node) {
    my $o = $node->{ NDARRAY_JSON_WRAPPER() };
    # NaN as the canonical quiet NaN 0x7ff8000000000000 (Inf/Inf would give the negative one on x86).
    my %special = (NaN => unpack('d<', pack('H*', '000000000000f87f')), Infinity => 9**9**9, '-Infinity' => -9**9**9, '-0' => -0.0);
    my @v = map { ref $_ eq 'HASH' ? $special{ $_->{'$float'} } : $_ } @{ $o->{data} };
    return $class->from_values($o->{dtype}, $o->{shape}, \@v, $o->{meta} // {});
}

sub _fail ($rule, $message, $path) {
    Concord::Error->throw(ERR_INVALID_ARRAY, ($path eq '' ? '/' : $path) . ": $message", path => $path, rule => $rule);
}

# Encodes the layout, in the byte order the dtype names.
sub pack_layout ($self) {
    my $meta = %{ $self->{meta} } ? Concord::JSON::encode($self->{meta}) : '{}';
    return pack('Q<', scalar @{ $self->{shape} }) . pack('Q<*', @{ $self->{shape} })
         . pack('Q<', length $self->{dtype}) . $self->{dtype}
         . pack('Q<', length $self->{bytes}) . $self->{bytes}
         . pack('Q<', length $meta) . $meta;
}

# Decodes the layout; faults are INVALID_ARRAY with the rule of spec/ndarray.json, checked in the
# reference codec's order (fields in layout order, each length against what remains, then dtype,
# data length, meta, bool values). $path names the field.
sub unpack_layout ($class, $bytes, $path = '') {
    my $total = length $bytes;
    my $off = 0;
    my $u64 = sub ($field) {
        _fail('truncated', "ndarray ends inside $field (needs 8 bytes at offset $off, has " . ($total - $off) . ')', $path) if $off + 8 > $total;
        my $v = unpack('Q<', substr($bytes, $off, 8));
        $off += 8;
        return $v;
    };
    my $block = sub ($field, $n) {
        _fail('truncated', "${field}_len is $n but only " . ($total - $off) . ' bytes remain', $path) if $n > $total - $off;
        my $b = substr($bytes, $off, $n);
        $off += $n;
        return $b;
    };
    # Each rule of the check table is applied as soon as its field is read, so the rule reported is
    # the first broken in the table's order (ARR-7): rules 2-9, then 10 (data and meta present),
    # 11 (meta-json), 12 (trailing-bytes), 13 (bool-value).
    my $ndim = $u64->('ndim');
    _fail('ndim-range', "ndim $ndim exceeds " . LIMIT_MAX_NDIM, $path) if $ndim > LIMIT_MAX_NDIM;
    _fail('truncated', "ndarray ends inside dims (needs " . 8 * $ndim . " bytes at offset $off, has " . ($total - $off) . ')', $path)
        if $off + 8 * $ndim > $total;
    my @dims = unpack('Q<' . $ndim, substr($bytes, $off, 8 * $ndim));
    $off += 8 * $ndim;
    my $dtype_len = $u64->('dtype_len');
    _fail('dtype-unknown', "dtype_len $dtype_len exceeds " . NDARRAY_MAX_DTYPE_LEN, $path) if $dtype_len > NDARRAY_MAX_DTYPE_LEN;
    my $dtype = $block->('dtype', $dtype_len);
    my $info = $DTYPES{$dtype};
    _fail('dtype-unknown', 'dtype ' . (length $dtype ? qq("$dtype") : '(empty)') . ' is not one of the listed codes', $path) unless $info;
    my $data_len = $u64->('data_len');
    # The element count in binary64, as the reference computes it; it must be a safe integer.
    my $size = 1.0;
    $size *= $_ for @dims;
    my $need = $size * $info->[2];
    _fail('data-length', "data_len $data_len differs from product(dims) x $info->[2] bytes", $path)
        unless $need == $need && $need <= 9007199254740991 && $need == $data_len;
    my $data = $block->('data', $data_len);
    my $meta_len = $u64->('meta_len');
    my $meta_bytes = $block->('meta', $meta_len);
    my $meta;
    if ($meta_bytes eq '{}') {
        $meta = {};
    } else {
        my $text = Concord::JSON::utf8_text($meta_bytes);
        _fail('meta-json', 'meta is not UTF-8 JSON', $path) unless defined $text;
        $meta = eval { Concord::JSON::parse($text) };
        _fail('meta-json', 'meta is not UTF-8 JSON', $path) if $@;
    }
    _fail('meta-json', 'meta is not a JSON object', $path) unless ref $meta eq 'HASH';
    _fail('trailing-bytes', ($total - $off) . ' bytes follow the meta block', $path) if $off != $total;
    if ($info->[1] eq 'b' && $data =~ /([^\x00\x01])/) {
        _fail('bool-value', 'bool element ' . $-[1] . ' is ' . ord($1), $path);
    }
    return bless { dtype => $dtype, shape => [ map { $_ + 0 } @dims ], bytes => $data, meta => $meta }, $class;
}

# The JSON wire form {"$ndarray": "<base64>"}.
sub TO_JSON ($self) { return +{ NDARRAY_JSON_WRAPPER() => MIME::Base64::encode_base64($self->pack_layout, '') } }

1;
