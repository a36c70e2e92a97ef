# Every vector of fixtures/frames/valid.json and invalid.json through the Perl codec.
use v5.36;
use Test::More;
use FindBin;
BEGIN { require "$FindBin::Bin/lib.pl" }
use Concord::Protocol qw(:framing :limits);
use Concord::Frame;
use Concord::Message qw(decode_message encode_message encode_frame);
use Concord::Payload;

sub frame_bodies ($bytes, %opt) {
    my $d = Concord::Frame->new(%opt);
    return $d->push($bytes);
}

sub typed_message ($m) {
    return { type => $m->{type}, name => $m->{name}, encoding => $m->{encoding}, header => $m->{header},
             payload => Concord::Payload::to_fixture($m->{payload}) };
}

my @BOTH = (encodings => ['json', 'cbor']);
is_deeply([Concord::Payload::encodings()], ['json', 'cbor'], 'CBOR is implemented (CBOR::XS, Debian libcbor-xs-perl, is installed)');

my $valid = load_fixture('frames/valid.json');
for my $v (@$valid) {
    my $bytes = pack('H*', $v->{hex});
    my $encoding = $ENCODINGS[ vec($bytes, 5, 8) & ENCODING_MASK ];
    my ($body) = frame_bodies($bytes);
    if ($encoding eq 'cbor') {
        # On a connection whose INIT_ACK chose JSON, a CBOR frame is refused and the connection stays open (ENC-3).
        my $refused = eval { decode_message($body); 1 } ? undef : $@;
        is(ref $refused && $refused->code, 'UNSUPPORTED_ENCODING', "$v->{id}: refused where CBOR was not negotiated");
        is($refused->frame_id, $v->{decoded}{header}{id}, "$v->{id}: the ERROR names the frame's id") if ref $refused;
    }
    my $m = eval { decode_message($body, @BOTH) };
    ok($m, "$v->{id}: decodes") or diag("$@"), next;
    is(typed_diff(typed_message($m), $v->{decoded}), undef, "$v->{id}: decoded value");
    # Round trip: re-encode from the decoded value (in the frame's encoding), decode again, same value.
    my $again = eval { decode_message(encode_message({ type => $m->{name}, header => $m->{header}, payload => $m->{payload}, encoding => $encoding }), @BOTH) };
    ok($again, "$v->{id}: re-encodes") or diag("$@"), next;
    is(typed_diff(typed_message($again), $v->{decoded}), undef, "$v->{id}: round trip");
}

my $invalid = load_fixture('frames/invalid.json');
for my $v (@$invalid) {
    my $bytes = pack('H*', $v->{hex});
    my $err;
    eval {
        my @bodies = frame_bodies($bytes, defined $v->{max_frame} ? (max_frame => $v->{max_frame}) : ());
        die "no complete frame\n" unless @bodies;
        decode_message($bodies[0], @BOTH);
        1;
    } or $err = $@;
    ok(ref $err, "$v->{id}: refused") or next;
    is($err->code, $v->{error}, "$v->{id}: $v->{error}");
    is($err->path, $v->{path}, "$v->{id}: path $v->{path}") if defined $v->{path};
    is($err->rule, $v->{rule}, "$v->{id}: rule $v->{rule}") if defined $v->{rule};
    is($err->closes, $v->{closes} ? 1 : 0, "$v->{id}: closes") if defined $v->{closes};
}

# Any chunking: every valid JSON frame fed one byte at a time, and all of them in one chunk.
{
    my @json = grep { (vec(pack('H*', $_->{hex}), 5, 8) & ENCODING_MASK) == ENCODING_JSON } @$valid;
    my $stream = join '', map { pack('H*', $_->{hex}) } @json;
    my $d = Concord::Frame->new;
    my @bodies;
    push @bodies, $d->push(substr($stream, $_, 1)) for 0 .. length($stream) - 1;
    is(scalar @bodies, scalar @json, 'byte-by-byte: every frame');
    ok(!$d->mid_frame, 'byte-by-byte: nothing left over');
    is(scalar(frame_bodies($stream)), scalar @json, 'one chunk: every frame');
    my @pieces = (substr($stream, 0, 2), substr($stream, 2, 7), substr($stream, 9));
    my $d2 = Concord::Frame->new;
    is(scalar(map { $d2->push($_) } @pieces), scalar @json, 'split inside the length prefix');
}

# FRAME_TOO_LARGE is decided on the prefix: nothing of the body is kept.
{
    my $d = Concord::Frame->new(max_frame => 65536);
    my $err = eval { $d->push(pack('N', 65537) . ('x' x 100)); 1 } ? undef : $@;
    is($err && $err->code, 'FRAME_TOO_LARGE', 'length above max_frame');
    is($err && $err->details->{limit}, 65536, 'details.limit is max_frame');
    is($d->buffered, 0, 'no body byte buffered');
    my $z = eval { Concord::Frame->new->push(pack('N', 0)); 1 } ? undef : $@;
    is($z && $z->code, 'MALFORMED_FRAME', 'length 0');
    my $first = encode_frame({ type => 'PING', header => { id => 'a' } });
    my $e2 = eval { Concord::Frame->new->push($first . pack('N', 0)); 1 } ? undef : $@;
    is(scalar @{ $e2->frames_before }, 1, 'frames before a framing fault are handed over');
}

done_testing;
