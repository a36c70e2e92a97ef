package Concord::CBOR;
# CBOR payloads (spec sections 4 and 8) as strict as the reference codec. Writing goes through
# CBOR::XS (Debian libcbor-xs-perl) with every value typed explicitly. Reading is done here, on the
# raw bytes, because CBOR::XS loses what the spec needs to see: it turns integer map keys into
# strings, reads negative integers below -2^63 as wrong values (-2^64 as 0), croaks on simple(16)
# without saying where, and hands back `undefined` as a value that croaks when used.
#
# decode($plan, $bytes) walks the item once and refuses, in the reference codec's order:
#   1. nesting beyond max_payload_depth or more than max_payload_items values (LIM-15, LIM-16),
#      as soon as the walk gets there (the reference scans the raw bytes first too);
#   2. anything not well formed (ENC-8): truncation, reserved additional information, a misplaced
#      break, a bad indefinite-length chunk, text that is not UTF-8, bytes after the item
#      (INVALID_PAYLOAD, path "");
#   3. the first data-model fault in document order (ENC-8 map keys, ENC-11) with the faulty
#      value's path: a non-text map key (path of the map), a tag other than the ndarray tag where
#      an ndarray may be, a byte string elsewhere, undefined, a simple value other than false, true
#      and null, a non-finite float, an integer with no exact binary64 value outside a 64-bit field.
# Values in an ndarray field are left to the array rules (rule wrapper). A tag decodes to a
# Concord::CBOR::Tag; a 64-bit field to its decimal string (the application model of the JSON
# side), or to a Concord::CBOR::NotInt64 that the schema's int64 keyword refuses.
use v5.36;
no warnings 'recursion';
use Concord::Protocol qw(:errors NDARRAY_CBOR_TAG LIMIT_MAX_PAYLOAD_DEPTH LIMIT_MAX_PAYLOAD_ITEMS);
use Concord::Error;
use Concord::JSON;

# CBOR::XS is optional: without it the Perl peer declares JSON only.
our $AVAILABLE = eval { require CBOR::XS; 1 } ? 1 : 0;
my $ENCODER = $AVAILABLE ? CBOR::XS->new->text_strings(1) : undef;

my %ARG_BYTES = (24 => 1, 25 => 2, 26 => 4, 27 => 8);
my %SIMPLE_NAME = (20 => 'false', 21 => 'true', 22 => 'null', 23 => 'undefined');
my $TWO_53 = 9007199254740992;
my $INF = 9**9**9;
my $U64_MAX = '18446744073709551615';

package Concord::CBOR::Tag {
    sub new ($class, $tag, $value, $bytes) { bless { tag => $tag, value => $value, bytes => $bytes }, $class }
    sub tag ($self)   { $self->{tag} }
    sub value ($self) { $self->{value} }
    # Whether the tagged item was a byte string (the ndarray wire form, ARR-5).
    sub is_bytes ($self) { $self->{bytes} }
}

package Concord::CBOR::NotInt64 {
    sub new ($class, $node) { bless { node => $node }, $class }
}

sub _malformed ($message) {
    die { malformed => $message };
}

sub _limit ($rule, $limit, $message, $statement) {
    Concord::Error->throw(ERR_INVALID_PAYLOAD, $message, path => '', rule => $rule, limit => $limit, statement => $statement);
}

sub _pointer ($parent, $key) {
    $key =~ s/~/~0/g;
    $key =~ s{/}{~1}g;
    return "$parent/$key";
}

# One walk: {bytes, pos, items, fault => [path, message] (the first data-model fault)}.
sub _take ($w, $n) {
    _malformed("truncated at byte $w->{pos}") if $n > length($w->{bytes}) - $w->{pos};
    my $chunk = substr($w->{bytes}, $w->{pos}, $n);
    $w->{pos} += $n;
    return $chunk;
}

# (major type, additional information, argument or undef when indefinite, raw argument bytes).
sub _head ($w) {
    my $initial = ord _take($w, 1);
    my ($major, $info) = ($initial >> 5, $initial & 0x1f);
    return ($major, $info, $info, '') if $info < 24;
    if (my $n = $ARG_BYTES{$info}) {
        my $raw = _take($w, $n);
        my $arg = $n == 1 ? ord $raw : $n == 2 ? unpack('n', $raw) : $n == 4 ? unpack('N', $raw) : unpack('Q>', $raw);
        return ($major, $info, $arg, $raw);
    }
    return ($major, $info, undef, '') if $info == 31 && ($major >= 2 && $major <= 5 || $major == 7);
    _malformed("additional information $info with major type $major at byte " . ($w->{pos} - 1));
}

sub _note ($w, $path, $message) {
    $w->{fault} //= [$path, $message];
}

sub _count ($w) {
    _limit('max-items', LIMIT_MAX_PAYLOAD_ITEMS, 'payload holds more than max_payload_items (' . LIMIT_MAX_PAYLOAD_ITEMS . ') values', 'LIM-16')
        if ++$w->{items} > LIMIT_MAX_PAYLOAD_ITEMS;
}

sub _level ($level) {
    _limit('max-depth', LIMIT_MAX_PAYLOAD_DEPTH, 'payload nests deeper than max_payload_depth (' . LIMIT_MAX_PAYLOAD_DEPTH . ')', 'LIM-15')
        if $level > LIMIT_MAX_PAYLOAD_DEPTH;
}

sub _at_break ($w) {
    _malformed('an indefinite-length item is not closed') if $w->{pos} >= length $w->{bytes};
    return 0 if substr($w->{bytes}, $w->{pos}, 1) ne "\xff";
    $w->{pos}++;
    return 1;
}

sub _string ($w, $major, $arg) {
    return _take($w, $arg) if defined $arg;
    my $out = '';
    while (1) {
        my ($m, $info, $n) = _head($w);
        return $out if $m == 7 && $info == 31;
        _malformed("an indefinite-length string holds a chunk of major type $m at byte $w->{pos}") if $m != $major || !defined $n;
        $w->{items}++; # chunks count as values, as in the reference's scan
        $out .= _take($w, $n);
    }
}

sub _half ($bits) {
    my ($sign, $exp, $mant) = ($bits >> 15, ($bits >> 10) & 0x1f, $bits & 0x3ff);
    my $v = $exp == 0 ? $mant * 2**-24 : $exp == 31 ? ($mant ? $INF - $INF : $INF) : (1024 + $mant) * 2**($exp - 25);
    return $sign ? -$v : $v;
}

sub _exact_double ($major, $arg) {
    return 1 if $arg < $TWO_53;
    # A double holds n exactly when its significant bits fit in 53: n without its trailing zero bits.
    return 1 if $major == 1 && $arg == 18446744073709551615; # -2^64: a power of two
    my $n = $major == 0 ? $arg : $arg + 1;                       # the magnitude
    $n >>= 1 while ($n & 1) == 0;
    return $n < $TWO_53;
}

sub _int_value ($major, $arg) {
    return $arg if $major == 0;
    return -1 - $arg if $arg < 9223372036854775808;
    return -1 - (0.0 + $arg); # below -2^63: a double (exact only when the data model allows it)
}

# 64-bit field: its decimal string within range; otherwise a NotInt64 the schema refuses (ENC-13).
sub _int64_value ($major, $arg, $signed) {
    if ($major == 0) {
        return "$arg" if !$signed || $arg <= 9223372036854775807;
    } elsif ($signed && $arg <= 9223372036854775807) {
        return '' . (-1 - $arg);
    }
    return Concord::CBOR::NotInt64->new(_int_value($major, $arg));
}

# Walks one item and returns its value. $checked is false where the data model does not apply
# (ndarray fields, inside a refused tag, map keys); $key marks a map key (not counted as a value).
sub _item ($w, $plan, $path, $level, $checked, $key = 0) {
    my $start = $w->{pos};
    my ($major, $info, $arg, $raw) = _head($w);
    _malformed("a break outside an indefinite-length item at byte $start") if $major == 7 && $info == 31;
    _count($w) unless $key;
    my $kind = $plan ? $plan->{kind} : 'plain';
    if ($kind eq 'ndarray' && $checked) {
        $checked = 0; # the array rules judge it (step 7)
    }
    if ($major <= 1) {
        if ($checked && $kind eq 'int64') {
            return _int64_value($major, $arg, $plan->{signed});
        }
        _note($w, $path, 'integer ' . ($major == 0 ? $arg : "-1-$arg") . ' has no exact double value outside a 64-bit field')
            if $checked && !_exact_double($major, $arg);
        return _int_value($major, $arg);
    }
    if ($major == 2 || $major == 3) {
        my $content = _string($w, $major, $arg);
        if ($major == 2) {
            _note($w, $path, 'a byte string is allowed only in an ndarray field') if $checked;
            return $content;
        }
        my $text = Concord::JSON::utf8_text($content);
        _malformed('a text string is not UTF-8') unless defined $text;
        return $checked && $kind eq 'int64' ? Concord::CBOR::NotInt64->new($text) : $text;
    }
    if ($major == 4) {
        _level(++$level);
        my $inner = $kind eq 'array' ? $plan->{items} : $kind eq 'any' ? $plan : undef;
        my @out;
        for (my $i = 0; defined $arg ? $i < $arg : !_at_break($w); $i++) {
            my $b = ord substr($w->{bytes}, $w->{pos}, 1);
            if ($b < 0x18 && $w->{pos} < length $w->{bytes}) {
                # a small unsigned integer: one byte, nothing to check (the common case of long arrays)
                $w->{pos}++;
                _count($w);
                push @out, $b;
                next;
            }
            push @out, _item($w, $inner, _pointer($path, $i), $level, $checked);
        }
        return \@out;
    }
    if ($major == 5) {
        _level(++$level);
        my %out;
        for (my $i = 0; defined $arg ? $i < $arg : !_at_break($w); $i++) {
            my $key_start = $w->{pos};
            my $k = _item($w, undef, $path, $level, 0, 1);
            my $is_text = (ord(substr($w->{bytes}, $key_start, 1)) >> 5) == 3;
            _note($w, $path, 'a map key is not a text string') if $checked && !$is_text;
            $k = "$i" if !$is_text || ref $k; # a refused key still needs a place
            my $sub = $kind eq 'object' ? ($plan->{props}{$k} // $plan->{rest}) : $kind eq 'any' ? $plan : undef;
            $out{$k} = _item($w, $sub, _pointer($path, $k), $level, $checked);
        }
        return \%out;
    }
    if ($major == 6) {
        _level(++$level);
        my $inside = $checked;
        if ($checked) {
            _note($w, $path, "tag $arg is not allowed here") unless $arg == NDARRAY_CBOR_TAG && $kind eq 'any';
            $inside = 0; # an ndarray in an any field (ARR-8): its wrapper and layout are step 7
        }
        my $is_bytes = $w->{pos} < length $w->{bytes} && (ord(substr($w->{bytes}, $w->{pos}, 1)) >> 5) == 2;
        return Concord::CBOR::Tag->new($arg, _item($w, undef, $path, $level, $inside), $is_bytes);
    }
    # major 7: simple values and floats
    if ($info <= 24) {
        _malformed("simple value $arg in two bytes at byte $start") if $info == 24 && $arg < 32;
        _note($w, $path, ($SIMPLE_NAME{$arg} // "simple value $arg") . ' is not in the payload data model')
            if $checked && $arg != 20 && $arg != 21 && $arg != 22;
        return $arg == 20 ? Concord::JSON::false() : $arg == 21 ? Concord::JSON::true() : undef;
    }
    my $v = $info == 25 ? _half(unpack('n', $raw)) : $info == 26 ? unpack('f>', $raw) : unpack('d>', $raw);
    my $finite = $v == $v && $v != $INF && $v != -$INF;
    _note($w, $path, "$v is not a JSON number") if $checked && !$finite;
    if ($checked && $kind eq 'int64' && $finite && $v == int($v) && abs($v) < $TWO_53) {
        # An integral float is not told apart from an integer (cbor-x reads both alike).
        return $v >= 0 ? _int64_value(0, int($v), $plan->{signed}) : _int64_value(1, -1 - int($v), $plan->{signed});
    }
    return $v;
}

# Decodes a CBOR payload against its plan (Concord::Payload::plan_of); dies with the first fault.
sub decode ($plan, $bytes) {
    my $w = { bytes => $bytes, pos => 0, items => 0 };
    my $value = eval {
        my $v = _item($w, $plan, '', 0, 1);
        _malformed((length($bytes) - $w->{pos}) . ' bytes after the item') if $w->{pos} != length $bytes;
        $v;
    };
    if (my $e = $@) {
        die $e unless ref $e eq 'HASH' && exists $e->{malformed};
        Concord::Error->throw(ERR_INVALID_PAYLOAD, "payload is not one well-formed CBOR item ($e->{malformed})", path => '');
    }
    if (my $f = $w->{fault}) {
        Concord::Error->throw(ERR_INVALID_PAYLOAD, ($f->[0] eq '' ? '/' : $f->[0]) . ": $f->[1]", path => $f->[0]);
    }
    return $value;
}

# The wire form of an ndarray: its layout bytes under the ndarray tag (ARR-5).
sub ndarray_tag ($layout) { CBOR::XS::tag(NDARRAY_CBOR_TAG, CBOR::XS::as_bytes($layout)) }

# A wire value with every scalar typed for CBOR::XS, which goes by a scalar's flags: a number that
# was once printed would otherwise be written as text, and a 64-bit decimal string must be an integer.
sub _typed ($v) {
    return undef unless defined $v;
    my $r = ref $v;
    if (!$r) {
        return "$v" unless Concord::JSON::is_number($v);
        die "Concord::CBOR: $v is not a finite number\n" if $v != $v || $v == $INF || $v == -$INF;
        # CBOR::XS writes an integral double as an integer, which would lose the sign of -0.
        return CBOR::XS::as_float64($v) if $v == 0 && sprintf('%g', $v) eq '-0';
        return 0 + $v;
    }
    return $v if $r eq 'JSON::PP::Boolean' || $r eq 'CBOR::XS::Tagged';
    return [ map { _typed($_) } @$v ] if $r eq 'ARRAY';
    return { map { ("$_" => _typed($v->{$_})) } keys %$v } if $r eq 'HASH';
    die "Concord::CBOR: cannot encode a $r\n";
}

# A 64-bit field's decimal string as a CBOR integer.
sub int64 ($decimal) { 0 + $decimal }

# One definite-length CBOR item with text keys and no tag but the ndarray tag (ENC-9, ENC-10).
sub encode ($wire) { $ENCODER->encode(_typed($wire)) }

1;
