package Concord::Envelope;
# The body of a frame (spec section 3): u8 type | u8 flags | u16 hlen | header | payload. Checks
# the prefix (closing faults, MALFORMED_FRAME) and the header (INVALID_HEADER at /header or
# /header/KEY) in the order of the reference codec; leaves the payload bytes untouched.
use v5.36;
use Concord::Spec;
use Concord::Protocol qw(:limits :framing @ENCODINGS :errors);
use Concord::Error;
use Concord::JSON;

my $UINT64 = qr/\A(?:0|[1-9][0-9]{0,19})\z/;
my $U64_MAX = '18446744073709551615';

sub _bad ($key, $message, %extra) {
    Concord::Error->throw(ERR_INVALID_HEADER, "header $key: $message", path => '/header' . (length $key ? "/$key" : ''), %extra);
}

sub _check_string ($h, $key, $max, $name) {
    return unless exists $h->{$key};
    my $v = $h->{$key};
    _bad($key, 'must be a string') if !defined $v || ref $v || Concord::JSON::is_number($v);
    my $bytes = $v;
    utf8::encode($bytes);
    my $len = length $bytes;
    _bad($key, "must be 1 to $max bytes of UTF-8, has $len") if $len < 1 || $len > $max;
    _bad($key, 'must not contain control characters') if $name && $v =~ /[\x00-\x1F\x7F]/;
}

# Parses and checks header bytes against the receiver's max_header.
sub decode_header ($bytes, $max_header = LIMIT_MAX_HEADER) {
    Concord::Error->throw(ERR_INVALID_HEADER, 'header of ' . length($bytes) . " bytes exceeds max_header $max_header",
        path => '/header', limit => $max_header) if length($bytes) > $max_header;
    _bad('', 'is empty (the id is required)') if length($bytes) == 0;
    my $text = Concord::JSON::utf8_text($bytes);
    _bad('', 'is not UTF-8 JSON') unless defined $text;
    my $h = eval { Concord::JSON::parse($text, overflow => 0) };
    _bad('', 'is not UTF-8 JSON') if $@;
    _bad('', 'is not a JSON object') unless ref $h eq 'HASH';
    _bad('id', 'is required') unless exists $h->{id};
    _check_string($h, 'id', LIMIT_MAX_ID_BYTES, 0);
    # From here the id is readable: a fault of another key is answered with `re` set to it (ERR-3).
    eval {
        _check_string($h, 're', LIMIT_MAX_ID_BYTES, 0);
        _check_string($h, 'src', LIMIT_MAX_NAME_BYTES, 1);
        _check_string($h, 'dst', LIMIT_MAX_NAME_BYTES, 1);
        if (exists $h->{ts}) {
            my $ts = $h->{ts};
            _bad('ts', 'must be a decimal string of a u64')
                if !defined $ts || ref $ts || Concord::JSON::is_number($ts) || $ts !~ $UINT64
                || (length($ts) == 20 && $ts gt $U64_MAX);
        }
        1;
    } or do {
        my $e = $@;
        $e->frame_id($h->{id}) if ref $e && $e->can('frame_id');
        die $e;
    };
    return $h;
}

# Header keys in a stable order: id, re, ts, src, dst, then the rest sorted.
sub encode_header ($h) {
    my %rank = (id => 0, re => 1, ts => 2, src => 3, dst => 4);
    my @keys = sort { ($rank{$a} // 9) <=> ($rank{$b} // 9) || $a cmp $b } keys %$h;
    my $text = '{' . join(',', map { Concord::JSON::string_text($_) . ':' . Concord::JSON::to_text($h->{$_}) } @keys) . '}';
    utf8::encode($text);
    return $text;
}

# Decodes a body into {type, flags, encoding_bits, header, payload}.
sub decode_envelope ($body, %opt) {
    my $len = length $body;
    Concord::Error->throw(ERR_MALFORMED_FRAME, "body of $len bytes is shorter than its 4-byte prefix", rule => 'short-body')
        if $len < BODY_PREFIX_BYTES;
    my ($type, $flags, $hlen) = unpack('C C n', $body);
    Concord::Error->throw(ERR_MALFORMED_FRAME, sprintf('reserved flag bits set (flags 0x%02x)', $flags), rule => 'reserved-flags')
        if $flags & RESERVED_FLAGS_MASK;
    Concord::Error->throw(ERR_MALFORMED_FRAME, "header length $hlen overruns the " . ($len - BODY_PREFIX_BYTES) . ' bytes after the prefix',
        rule => 'hlen-overrun') if $hlen > $len - BODY_PREFIX_BYTES;
    my $header = decode_header(substr($body, BODY_PREFIX_BYTES, $hlen), $opt{max_header} // LIMIT_MAX_HEADER);
    return { type => $type, flags => $flags, encoding_bits => $flags & ENCODING_MASK, header => $header,
             payload => substr($body, BODY_PREFIX_BYTES + $hlen) };
}

# Assembles a body; $encoding is a name ('json', 'cbor').
sub encode_envelope ($type, $encoding, $header, $payload) {
    my ($bits) = grep { $ENCODINGS[$_] eq $encoding } 0 .. $#ENCODINGS;
    die "encode_envelope: unknown encoding $encoding\n" unless defined $bits;
    my $hb = ref $header ? encode_header($header) : $header;
    die "encode_envelope: header exceeds 65535 bytes\n" if length($hb) > 0xFFFF;
    return pack('C C n', $type, $bits, length $hb) . $hb . $payload;
}

1;
