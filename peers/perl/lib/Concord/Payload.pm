package Concord::Payload;
# Payloads (spec sections 4, 5 and 8): JSON text or CBOR <-> application values for one message
# type. Decoding parses strict JSON or CBOR (INVALID_PAYLOAD; CBOR through Concord::CBOR, which
# also checks the data model), converts ndarray fields from {"$ndarray": base64} or tag 49344 to
# Concord::NDArray (INVALID_ARRAY), then validates against the type's schema (SCHEMA_VIOLATION
# with details path and rule), the order of the reference codec. 64-bit integer fields are decimal
# strings in the application model. Schemas are read from spec/ at run time.
use v5.36;
no warnings 'recursion';
use MIME::Base64 ();
use Concord::Spec;
use Concord::Protocol qw(:ndarray :errors LIMIT_MAX_PAYLOAD_DEPTH);
use Concord::Error;
use Concord::JSON;
use Concord::CBOR;
use Concord::NDArray;

my $UINT64 = qr/\A(?:0|[1-9][0-9]{0,19})\z/;
my $INT64  = qr/\A-?(?:0|[1-9][0-9]{0,18})\z/;
my $BASE64 = qr/\A(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=)?\z/;

sub pointer ($parent, $key) {
    $key =~ s/~/~0/g;
    $key =~ s{/}{~1}g;
    return "$parent/$key";
}

# ---- plans: where the ndarray and 64-bit fields are ----

my %PLANS;
my $PLAIN = { kind => 'plain' };
# A field whose schema allows any value: a `$ndarray` wrapper in it is an ndarray (ARR-8).
my $ANY = { kind => 'any' };
my %ANNOTATION = map { $_ => 1 } qw(description title examples $comment default since);

sub build_plan ($schema) {
    return $PLAIN unless $schema;
    $schema = Concord::Spec::resolve($schema);
    return $ANY if ref $schema eq 'HASH' && !grep { !$ANNOTATION{$_} } keys %$schema;
    return { kind => 'ndarray', rule => $schema->{ndarray} } if $schema->{ndarray};
    return { kind => 'int64', signed => $schema->{int64} eq 'int64' } if $schema->{int64};
    my $props = $schema->{properties};
    my $additional = $schema->{additionalProperties};
    if ($props || ref $additional eq 'HASH') {
        my %map;
        for my $k (keys %{ $props // {} }) {
            my $p = build_plan($props->{$k});
            $map{$k} = $p if $p->{kind} ne 'plain';
        }
        my $rest = ref $additional eq 'HASH' ? build_plan($additional) : $PLAIN;
        return $PLAIN if !%map && $rest->{kind} eq 'plain';
        return { kind => 'object', props => \%map, ($rest->{kind} ne 'plain' ? (rest => $rest) : ()) };
    }
    if (ref $schema->{items} eq 'HASH') {
        my $items = build_plan($schema->{items});
        return $items->{kind} eq 'plain' ? $PLAIN : { kind => 'array', items => $items };
    }
    return $PLAIN;
}

sub plan_of ($m) { $PLANS{ $m->{code} } //= build_plan($m->{payload}) }

# ---- ndarray field rules ----

sub _array_fault ($path, $rule, $message) {
    Concord::Error->throw(ERR_INVALID_ARRAY, ($path eq '' ? '/' : $path) . ": $message", path => $path, rule => $rule);
}

sub check_ndarray_rule ($a, $rule, $path) {
    my @dtypes = @{ $rule->{dtypes} };
    _array_fault($path, 'field-dtype', "dtype $a->{dtype} is not one of @dtypes") unless grep { $_ eq $a->name } @dtypes;
    _array_fault($path, 'field-shape', 'has ' . $a->ndim . " dimensions, the field needs $rule->{ndim}")
        if defined $rule->{ndim} && $a->ndim != $rule->{ndim};
    if ($rule->{shape}) {
        my $i = 0;
        for my $want (@{ $rule->{shape} }) {
            _array_fault($path, 'field-shape', "dimension $i is " . ($a->shape->[$i] // 'absent') . ", the field needs $want")
                if defined $want && (!defined $a->shape->[$i] || $a->shape->[$i] != $want);
            $i++;
        }
    }
    _array_fault($path, 'field-shape', 'has ' . $a->size . " elements, the field needs at least $rule->{minSize}")
        if defined $rule->{minSize} && $a->size < $rule->{minSize};
    _array_fault($path, 'field-shape', 'has ' . $a->size . " elements, the field allows at most $rule->{maxSize}")
        if defined $rule->{maxSize} && $a->size > $rule->{maxSize};
}

sub _decode_ndarray ($node, $path, $rule, $form = 'json') {
    if ($form eq 'cbor') {
        _array_fault($path, 'wrapper', 'must be a byte string under tag ' . NDARRAY_CBOR_TAG)
            unless ref $node eq 'Concord::CBOR::Tag' && $node->tag == NDARRAY_CBOR_TAG && $node->is_bytes;
        my $a = Concord::NDArray->unpack_layout($node->value, $path);
        check_ndarray_rule($a, $rule, $path) if $rule;
        return $a;
    }
    my $w = NDARRAY_JSON_WRAPPER;
    _array_fault($path, 'wrapper', qq(must be an object {"$w": "<base64>"}))
        unless ref $node eq 'HASH' && keys %$node == 1 && exists $node->{$w}
            && defined $node->{$w} && !ref $node->{$w} && !Concord::JSON::is_number($node->{$w});
    my $text = $node->{$w};
    _array_fault($path, 'wrapper', 'is not canonical base64 (RFC 4648 section 4, padded)') unless $text =~ $BASE64;
    my $bytes = MIME::Base64::decode_base64($text);
    _array_fault($path, 'wrapper', 'is not canonical base64 (non-zero pad bits)') if MIME::Base64::encode_base64($bytes, '') ne $text;
    my $a = Concord::NDArray->unpack_layout($bytes, $path);
    check_ndarray_rule($a, $rule, $path) if $rule; # no rule in an any-typed field: layout rules only (ARR-8)
    return $a;
}

# An any-typed field: every object whose only key is `$ndarray` (in CBOR, every tag 49344) is an
# ndarray, decoded and checked (ARR-8).
sub _from_wire_any ($node, $path, $form) {
    my $w = NDARRAY_JSON_WRAPPER;
    return _decode_ndarray($node, $path, undef, $form)
        if $form eq 'cbor' ? ref $node eq 'Concord::CBOR::Tag' : ref $node eq 'HASH' && keys %$node == 1 && exists $node->{$w};
    # Only containers and tags can hold an ndarray: scalars are kept as they are, without a path.
    if (ref $node eq 'ARRAY') {
        my $i = -1;
        return [ map { $i++; ref $_ ? _from_wire_any($_, pointer($path, $i), $form) : $_ } @$node ];
    }
    return { map { $_ => ref $node->{$_} ? _from_wire_any($node->{$_}, pointer($path, $_), $form) : $node->{$_} } sort keys %$node }
        if ref $node eq 'HASH';
    return $node;
}

sub _ndarray_to_wire ($array, $form) {
    return $form eq 'cbor' ? Concord::CBOR::ndarray_tag($array->pack_layout) : $array->TO_JSON;
}

sub _to_wire_any ($value, $form) {
    return _ndarray_to_wire($value, $form) if ref $value && eval { $value->isa('Concord::NDArray') };
    return [ map { _to_wire_any($_, $form) } @$value ] if ref $value eq 'ARRAY';
    return { map { $_ => _to_wire_any($value->{$_}, $form) } keys %$value } if ref $value eq 'HASH';
    return $value;
}

sub _int64_ok ($v, $signed) {
    return 0 if !defined $v || ref $v || Concord::JSON::is_number($v);
    if ($signed) {
        return 0 unless $v =~ $INT64 && $v ne '-0';
        my $digits = $v =~ s/^-//r;
        return length($digits) < 19 || $digits le ($v =~ /^-/ ? '9223372036854775808' : '9223372036854775807');
    }
    return 0 unless $v =~ $UINT64;
    return length($v) < 20 || $v le '18446744073709551615';
}

# Wire form (parsed JSON, or CBOR as Concord::CBOR decodes it) to application model: ndarray fields
# become Concord::NDArray (64-bit fields are already decimal strings: JSON's form, and Concord::CBOR's).
sub from_wire ($plan, $node, $path = '', $form = 'json') {
    my $k = $plan->{kind};
    return _decode_ndarray($node, $path, $plan->{rule}, $form) if $k eq 'ndarray';
    return _from_wire_any($node, $path, $form) if $k eq 'any';
    return $node if $k eq 'plain' || $k eq 'int64';
    if ($k eq 'array') {
        return $node unless ref $node eq 'ARRAY';
        my $i = 0;
        return [ map { from_wire($plan->{items}, $_, pointer($path, $i++), $form) } @$node ];
    }
    return $node unless ref $node eq 'HASH';
    my %out;
    for my $key (sort keys %$node) {
        my $sub = $plan->{props}{$key} // $plan->{rest};
        $out{$key} = $sub ? from_wire($sub, $node->{$key}, pointer($path, $key), $form) : $node->{$key};
    }
    return \%out;
}

# Application model to wire form (before JSON text or CBOR): NDArray to its wrapper or tag, 64-bit
# fields as decimal strings in JSON and integers in CBOR.
sub to_wire ($plan, $value, $form = 'json') {
    my $k = $plan->{kind};
    return _ndarray_to_wire($value, $form) if $k eq 'ndarray' && ref $value && eval { $value->isa('Concord::NDArray') };
    return _to_wire_any($value, $form) if $k eq 'any';
    if ($k eq 'int64' && defined $value && (!ref $value || eval { $value->isa('Math::BigInt') })) {
        return $form eq 'cbor' ? Concord::CBOR::int64("$value") : ref $value ? "$value" : $value;
    }
    return $value if $k eq 'plain' || $k eq 'int64' || $k eq 'ndarray';
    if ($k eq 'array') {
        return ref $value eq 'ARRAY' ? [ map { to_wire($plan->{items}, $_, $form) } @$value ] : $value;
    }
    return $value unless ref $value eq 'HASH';
    my %out;
    for my $key (keys %$value) {
        my $sub = $plan->{props}{$key} // $plan->{rest};
        $out{$key} = $sub ? to_wire($sub, $value->{$key}, $form) : $value->{$key};
    }
    return \%out;
}

# ---- the schema validator (the JSON Schema subset the catalog uses, in ajv's keyword order) ----

my %TYPE_GROUP = (number => 'number', integer => 'number', string => 'string', array => 'array', object => 'object');
my %GROUP_KEYWORDS = (
    number => [qw(maximum minimum exclusiveMaximum exclusiveMinimum multipleOf)],
    string => [qw(maxLength minLength pattern maxBytes)],
    array  => [qw(maxItems minItems uniqueItems additionalItems items contains)],
    object => [qw(maxProperties minProperties required propertyNames additionalProperties dependencies properties patternProperties)],
);
my %PATTERNS;

sub _violation ($path, $rule, $message) {
    die { path => $path, rule => $rule, message => $message };
}

sub data_type ($v) {
    return 'null' unless defined $v;
    my $r = ref $v;
    return 'boolean' if $r eq 'JSON::PP::Boolean';
    return 'object' if $r eq 'HASH';
    return 'array' if $r eq 'ARRAY';
    return 'ndarray' if $r && eval { $v->isa('Concord::NDArray') };
    return 'other' if $r;
    return Concord::JSON::is_number($v) ? 'number' : 'string';
}

sub _type_ok ($t, $v) {
    my $d = data_type($v);
    return $d eq 'number' && $v == int($v) if $t eq 'integer';
    return $d eq $t;
}

# Canonical text for deep equality (enum, const, uniqueItems): numbers by value.
sub _canon ($v) {
    my $d = data_type($v);
    return 'n' . ($v == int($v) && abs($v) < 1e15 ? sprintf('%d', $v) : sprintf('%.17g', $v)) if $d eq 'number';
    return 's' . $v if $d eq 'string';
    return 'z' if $d eq 'null';
    return 'b' . ($$v ? 1 : 0) if $d eq 'boolean';
    return '[' . join(',', map { _canon($_) } @$v) . ']' if $d eq 'array';
    return '{' . join(',', map { length($_) . ':' . $_ . '=' . _canon($v->{$_}) } sort keys %$v) . '}' if $d eq 'object';
    return 'x' . "$v";
}

sub _pattern ($p) {
    return $PATTERNS{$p} //= do {
        my $perl = $p;
        $perl =~ s/\\u([0-9A-Fa-f]{4})/\\x{$1}/g;
        $perl =~ s/(?<!\\)\$\z/\\z/;
        qr/$perl/;
    };
}

sub _schema_has_group_rules ($s, $group) {
    return scalar grep { exists $s->{$_} } @{ $GROUP_KEYWORDS{$group} };
}

sub _check ($s, $v, $path) {
    my @types = !defined $s->{type} ? () : ref $s->{type} ? @{ $s->{type} } : ($s->{type});
    my $deferred = @types == 1 && $TYPE_GROUP{ $types[0] } && $types[0] ne 'integer'
        && _schema_has_group_rules($s, $TYPE_GROUP{ $types[0] });
    if (@types && !$deferred && !grep { _type_ok($_, $v) } @types) {
        _violation($path, 'type', 'must be ' . join(' or ', @types));
    }
    # keywords of any type ($ref first, as in ajv's untyped group)
    _check(Concord::Spec::resolve_ref($s->{'$ref'}), $v, $path) if defined $s->{'$ref'};
    if (exists $s->{const} && _canon($v) ne _canon($s->{const})) {
        _violation($path, 'const', 'must be equal to constant');
    }
    if ($s->{enum} && !grep { _canon($v) eq _canon($_) } @{ $s->{enum} }) {
        _violation($path, 'enum', 'must be equal to one of the allowed values');
    }
    if ($s->{ndarray}) {
        Concord::Error->throw(ERR_INVALID_ARRAY, ($path eq '' ? '/' : $path) . ': must be an ndarray', path => $path, rule => 'wrapper')
            unless data_type($v) eq 'ndarray';
        check_ndarray_rule($v, $s->{ndarray}, $path);
    }
    if ($s->{int64} && !_int64_ok($v, $s->{int64} eq 'int64')) {
        _violation($path, 'int64', "must be a $s->{int64} (a decimal string in JSON)");
    }
    my $d = data_type($v);
    for my $group (qw(number string array object)) {
        next unless _schema_has_group_rules($s, $group) || ($deferred && $TYPE_GROUP{ $types[0] } eq $group);
        if ($d ne $group) {
            _violation($path, 'type', "must be $types[0]") if $deferred && $TYPE_GROUP{ $types[0] } eq $group;
            next;
        }
        my $m = "_$group";
        no strict 'refs';
        &$m($s, $v, $path);
    }
}

sub _number ($s, $v, $path) {
    _violation($path, 'maximum', "must be <= $s->{maximum}") if defined $s->{maximum} && !($v <= $s->{maximum});
    _violation($path, 'minimum', "must be >= $s->{minimum}") if defined $s->{minimum} && !($v >= $s->{minimum});
    _violation($path, 'exclusiveMaximum', "must be < $s->{exclusiveMaximum}") if defined $s->{exclusiveMaximum} && !($v < $s->{exclusiveMaximum});
    _violation($path, 'exclusiveMinimum', "must be > $s->{exclusiveMinimum}") if defined $s->{exclusiveMinimum} && !($v > $s->{exclusiveMinimum});
}

sub _string ($s, $v, $path) {
    my $len = length $v;
    _violation($path, 'maxLength', "must NOT have more than $s->{maxLength} characters") if defined $s->{maxLength} && $len > $s->{maxLength};
    _violation($path, 'minLength', "must NOT have fewer than $s->{minLength} characters") if defined $s->{minLength} && $len < $s->{minLength};
    _violation($path, 'pattern', qq(must match pattern "$s->{pattern}")) if defined $s->{pattern} && $v !~ _pattern($s->{pattern});
    # LIM-6: a length in bytes of UTF-8, where maxLength counts characters.
    if (defined $s->{maxBytes}) {
        my $bytes = $v;
        utf8::encode($bytes);
        _violation($path, 'maxBytes', "must NOT be longer than $s->{maxBytes} bytes of UTF-8") if length $bytes > $s->{maxBytes};
    }
}

sub _array ($s, $v, $path) {
    my $n = @$v;
    _violation($path, 'maxItems', "must NOT have more than $s->{maxItems} items") if defined $s->{maxItems} && $n > $s->{maxItems};
    _violation($path, 'minItems', "must NOT have fewer than $s->{minItems} items") if defined $s->{minItems} && $n < $s->{minItems};
    if ($s->{uniqueItems} && ref $s->{uniqueItems} && ${ $s->{uniqueItems} }) {
        my %seen;
        for my $i (reverse 0 .. $n - 1) {
            my $c = _canon($v->[$i]);
            _violation($path, 'uniqueItems', "must NOT have duplicate items (items ## $seen{$c} and $i are identical)") if exists $seen{$c};
            $seen{$c} = $i;
        }
    }
    if (ref $s->{items} eq 'HASH') {
        _check($s->{items}, $v->[$_], pointer($path, $_)) for 0 .. $n - 1;
    }
    if (ref $s->{contains} eq 'HASH') {
        my $ok = 0;
        for my $item (@$v) {
            if (eval { _check($s->{contains}, $item, $path); 1 }) { $ok = 1; last }
            die $@ if Concord::Error::is_error($@);
        }
        _violation($path, 'contains', 'must contain at least 1 valid item(s)') unless $ok;
    }
}

sub _object ($s, $v, $path) {
    my $n = keys %$v;
    _violation($path, 'maxProperties', "must NOT have more than $s->{maxProperties} properties") if defined $s->{maxProperties} && $n > $s->{maxProperties};
    _violation($path, 'minProperties', "must NOT have fewer than $s->{minProperties} properties") if defined $s->{minProperties} && $n < $s->{minProperties};
    for my $r (@{ $s->{required} // [] }) {
        _violation(pointer($path, $r), 'required', "must have required property '$r'") unless exists $v->{$r};
    }
    if (ref $s->{propertyNames} eq 'HASH') {
        _check($s->{propertyNames}, $_, $path) for sort keys %$v;
    }
    my $props = $s->{properties} // {};
    my $additional = $s->{additionalProperties};
    if (defined $additional) {
        for my $k (sort keys %$v) {
            next if exists $props->{$k};
            if (ref $additional eq 'HASH') {
                _check($additional, $v->{$k}, pointer($path, $k));
            } elsif (!$additional) {
                _violation(pointer($path, $k), 'additionalProperties', 'is not a field of this type');
            }
        }
    }
    for my $k (keys %$props) {
        _check($props->{$k}, $v->{$k}, pointer($path, $k)) if exists $v->{$k};
    }
}

# Checks an application-model payload against its type's schema; throws the first fault.
sub validate_payload ($m, $payload) {
    if (!$m->{payload}) {
        Concord::Error->throw(ERR_SCHEMA_VIOLATION, "$m->{name} carries no payload", path => '', rule => 'empty') if defined $payload;
        return;
    }
    my $ok = eval { _check($m->{payload}, $payload, ''); 1 };
    return if $ok;
    my $e = $@;
    die $e if Concord::Error::is_error($e);
    die $e unless ref $e eq 'HASH';
    Concord::Error->throw(ERR_SCHEMA_VIOLATION, "$m->{name}: " . ($e->{path} eq '' ? '/' : $e->{path}) . " $e->{message}",
        path => $e->{path}, rule => $e->{rule});
}

# ---- whole payloads ----

# Payload encodings this peer implements: CBOR needs CBOR::XS (Debian libcbor-xs-perl) to write.
sub encodings () { $Concord::CBOR::AVAILABLE ? ('json', 'cbor') : ('json') }

# Decodes and validates a JSON or CBOR payload; types without payload decode to undef.
sub decode_payload ($m, $bytes, $encoding = 'json') {
    if (!$m->{payload}) {
        Concord::Error->throw(ERR_SCHEMA_VIOLATION, "$m->{name} carries no payload, got " . length($bytes) . ' bytes', path => '', rule => 'empty')
            if length $bytes;
        return undef;
    }
    Concord::Error->throw(ERR_INVALID_PAYLOAD, "$m->{name}: payload is empty", path => '') unless length $bytes;
    if ($encoding eq 'cbor') {
        # Limits, well-formedness and the data model over the whole payload (step 6) come first.
        my $value = from_wire(plan_of($m), Concord::CBOR::decode(plan_of($m), $bytes), '', 'cbor');
        validate_payload($m, $value);
        return $value;
    }
    my $text = Concord::JSON::utf8_text($bytes);
    Concord::Error->throw(ERR_INVALID_PAYLOAD, "$m->{name}: payload is not valid UTF-8", path => '') unless defined $text;
    _check_depth($bytes);
    my $value = eval { Concord::JSON::parse($text) };
    if (my $err = $@) {
        chomp $err;
        Concord::Error->throw(ERR_INVALID_PAYLOAD, "$m->{name}: payload is not JSON ($err)", path => '');
    }
    $value = from_wire(plan_of($m), $value);
    validate_payload($m, $value);
    return $value;
}

# LIM-15: nesting beyond max_payload_depth is refused on the bytes, before the parser recurses.
sub _check_depth ($bytes) {
    my $depth = 0;
    while ($bytes =~ /\G(?:"(?:[^"\\]++|\\.)*+"|([\[{])|([\]}])|[^"\[\]{}]++)/gcs) {
        if (defined $1) {
            Concord::Error->throw(ERR_INVALID_PAYLOAD, 'payload nests deeper than max_payload_depth (' . LIMIT_MAX_PAYLOAD_DEPTH . ')',
                path => '', rule => 'max-depth', limit => LIMIT_MAX_PAYLOAD_DEPTH) if ++$depth > LIMIT_MAX_PAYLOAD_DEPTH;
        } elsif (defined $2) {
            $depth--;
        }
    }
}

# Validates and encodes a payload to JSON or CBOR bytes.
sub encode_payload ($m, $value, $encoding = 'json') {
    validate_payload($m, $value);
    return '' unless $m->{payload};
    return Concord::CBOR::encode(to_wire(plan_of($m), $value, 'cbor')) if $encoding eq 'cbor';
    return Concord::JSON::encode(to_wire(plan_of($m), $value));
}

# A payload in the fixtures' typed-JSON notation (ndarrays expanded), from its application value.
sub to_fixture ($value) {
    my $r = ref $value;
    return $value->to_fixture if $r && eval { $value->isa('Concord::NDArray') };
    return [ map { to_fixture($_) } @$value ] if $r eq 'ARRAY';
    return { map { $_ => to_fixture($value->{$_}) } keys %$value } if $r eq 'HASH';
    return $value;
}

1;
