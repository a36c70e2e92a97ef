# JSON strictness, number round trips, 64-bit fields and the schema validator's paths and rules.
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use Concord::Spec;
use Concord::Payload;
use Concord::NDArray;
use Concord::Message qw(decode_message encode_message);

my $init = Concord::Spec::message_by_name('INIT');
my $base = '{"client_id":"a","language":"perl","role":"client","protocol_version":"1.0","encodings":["json"],"max_frame":65536';

sub fault ($m, $text) {
    my $r = eval { Concord::Payload::decode_payload($m, $text); 1 } ? undef : $@;
    return $r ? join(' ', $r->code, $r->path // '-', $r->rule // '-') : 'accepted';
}

ok(Concord::Payload::decode_payload($init, "$base}"), 'a valid INIT');
is(fault($init, "$base,\"max_frame\":65536.0}"), 'accepted', 'an integral number satisfies integer (ENC-14)');
is(fault($init, "\xEF\xBB\xBF$base}"), 'INVALID_PAYLOAD  -', 'BOM refused');
is(fault($init, "$base} x"), 'INVALID_PAYLOAD  -', 'trailing bytes refused');
is(fault($init, "$base,\"name\":1e400}"), 'INVALID_PAYLOAD  -', 'number beyond binary64 refused');
is(fault($init, "$base,\"name\":\"\xC0\xAF\"}"), 'INVALID_PAYLOAD  -', 'overlong UTF-8 refused');
is(fault($init, "$base,\"max_frame\":\"65536\"}"), 'SCHEMA_VIOLATION /max_frame type', 'a string is not a number');
is(fault($init, "$base,\"name\":12}"), 'SCHEMA_VIOLATION /name type', 'a number is not a string');
is(fault($init, "$base,\"max_frame\":100}"), 'SCHEMA_VIOLATION /max_frame minimum', 'minimum');
is(fault($init, "$base,\"encodings\":[\"cbor\"]}"), 'SCHEMA_VIOLATION /encodings contains', 'json must be among the encodings');
is(fault($init, "$base,\"encodings\":[\"json\",\"json\"]}"), 'SCHEMA_VIOLATION /encodings uniqueItems', 'uniqueItems');
is(fault($init, "$base,\"features\":[\"Bad\"]}"), 'SCHEMA_VIOLATION /features/0 pattern', 'pattern');
is(fault($init, "$base,\"client_id\":\"a\\nb\"}"), 'SCHEMA_VIOLATION /client_id pattern', 'Name refuses control characters');
is(fault($init, "$base,\"client_id\":\"" . ('\u00e9' x 64) . "\"}"), 'accepted', 'a Name of 128 bytes of UTF-8 is accepted (LIM-6)');
is(fault($init, "$base,\"client_id\":\"" . ('\u00e9' x 64) . "a\"}"), 'SCHEMA_VIOLATION /client_id maxBytes', 'a Name is limited in bytes of UTF-8, not characters (LIM-6)');
is(fault($init, "$base,\"colour\":1}"), 'SCHEMA_VIOLATION /colour additionalProperties', 'additionalProperties');
is(fault($init, '{"language":"perl"}'), 'SCHEMA_VIOLATION /client_id required', 'required, in schema order');

my $stats = Concord::Spec::message_by_name('STATS_RESPONSE');
my $s = '{"broker_id":"b","clients":[],"uptime_ms":';
is(fault($stats, "$s\"18446744073709551615\"}"), 'accepted', 'uint64 maximum');
is(fault($stats, "${s}5}"), 'SCHEMA_VIOLATION /uptime_ms int64', 'uint64 as a JSON number');
is(fault($stats, "$s\"18446744073709551616\"}"), 'SCHEMA_VIOLATION /uptime_ms int64', 'uint64 above 2^64-1');
is(fault($stats, "$s\"007\"}"), 'SCHEMA_VIOLATION /uptime_ms int64', 'leading zero');

# Numbers re-encode to the same binary64 value.
for my $n (0.1, 0.10000000149011612, 1e300, -2.5e-300, 5e-324, 1.7976931348623157e308, 123456789, -0.85) {
    is(Concord::JSON::parse(Concord::JSON::to_text($n)) , $n, "number $n round trips");
}
is(Concord::JSON::to_text(0.8500000238418579), '0.8500000238418579', 'float32 value written exactly (ENC-15)');
is(Concord::JSON::to_text("12"), '"12"', 'a string stays a string');
is(Concord::JSON::to_text(Concord::JSON::parse('"\ud83d\ude00\u0000"')), "\"\x{1F600}\\u0000\"", 'escapes and surrogate pairs');

# ndarray fields: wire form, precedence INVALID_PAYLOAD, then INVALID_ARRAY, then SCHEMA_VIOLATION.
my $rr = Concord::Spec::message_by_name('REASONING_REQUEST');
my $vec = Concord::NDArray->from_values('<f4', [768], [ map { $_ / 768 } 0 .. 767 ]);
my $body = encode_message({ type => 'REASONING_REQUEST', header => { id => 'r1' }, payload => { encoding => $vec, context => 'c', source => 'perl' } });
my $m = decode_message($body);
is(unpack('H*', $m->{payload}{encoding}->bytes), unpack('H*', $vec->bytes), '768 float32 round trip');
is(fault($rr, '{"encoding":[1,2],"context":"c","source":"perl"}'), 'INVALID_ARRAY /encoding wrapper', 'number array refused');
is(fault($rr, '{"encoding":{"$ndarray":"AA=="},"context":5}'), 'INVALID_ARRAY /encoding truncated', 'INVALID_ARRAY before SCHEMA_VIOLATION');
my $f64 = Concord::NDArray->from_values('<f8', [1], [1]);
my $e = eval { encode_message({ type => 'REASONING_REQUEST', header => { id => 'r' }, payload => { encoding => $f64, context => 'c', source => 'p' } }); 1 } ? undef : $@;
is($e && $e->rule, 'field-dtype', 'the encoder validates too');

done_testing;
