package Concord::JSON;
# Strict RFC 8259 JSON for payloads and headers: UTF-8 without byte order mark (checked by the
# caller), exactly one value, numbers that fit binary64. Numbers decode to Perl numbers, strings
# to Perl strings, true/false to JSON::PP booleans, null to undef. The encoder writes numbers with
# the shortest spelling that reads back as the same binary64 (JSON::PP would write %.15g).
use v5.36;
no warnings 'experimental::builtin';
use builtin qw(created_as_number);
use JSON::PP ();
use B ();

sub true ()  { $JSON::PP::true }
sub false () { $JSON::PP::false }
sub is_bool ($v) { ref $v && (ref $v eq 'JSON::PP::Boolean') }

# true when $v is a JSON number in the application model (a Perl number, not a string).
sub is_number ($v) {
    return 0 if !defined $v || ref $v;
    return 1 if created_as_number($v);
    return 0;
}

my $WS = qr/[\x20\x09\x0A\x0D]*/;

# Checks that $bytes are well-formed UTF-8 (RFC 3629) and returns the characters, or undef.
sub utf8_text ($bytes) {
    my $text = $bytes;
    return $text unless $text =~ /[\x80-\xFF]/;
    return undef unless utf8::decode($text);
    return undef if $text =~ /[\x{D800}-\x{DFFF}]/ || $text =~ /[^\x{0}-\x{10FFFF}]/;
    return $text;
}

# Parses one JSON text (a character string). Dies with a plain message on any fault.
# Options: overflow => 1 refuses numbers beyond binary64.
sub parse ($text, %opt) {
    my $p = { t => \$text, overflow => $opt{overflow} // 1 };
    pos($text) = 0;
    $text =~ /\G$WS/gc;
    my $v = _value($p, \$text, 0);
    $text =~ /\G$WS/gc;
    die "unexpected text after the JSON value at offset " . pos($text) . "\n" if pos($text) != length $text;
    return $v;
}

my %ESC = ('"' => '"', '\\' => '\\', '/' => '/', b => "\b", f => "\f", n => "\n", r => "\r", t => "\t");

sub _value ($p, $t, $depth) {
    die "JSON nested too deeply\n" if $depth > 10000;
    if ($$t =~ /\G"/gc) { return _string($t) }
    if ($$t =~ /\G\{/gc) {
        my %h;
        $$t =~ /\G$WS/gc;
        return \%h if $$t =~ /\G\}/gc;
        while (1) {
            die "expected a string key at offset " . pos($$t) . "\n" unless $$t =~ /\G"/gc;
            my $k = _string($t);
            $$t =~ /\G$WS:$WS/gc or die "expected ':' at offset " . pos($$t) . "\n";
            $h{$k} = _value($p, $t, $depth + 1);
            $$t =~ /\G$WS/gc;
            next if $$t =~ /\G,$WS/gc;
            return \%h if $$t =~ /\G\}/gc;
            die "expected ',' or '}' at offset " . pos($$t) . "\n";
        }
    }
    if ($$t =~ /\G\[/gc) {
        my @a;
        $$t =~ /\G$WS/gc;
        return \@a if $$t =~ /\G\]/gc;
        while (1) {
            push @a, _value($p, $t, $depth + 1);
            $$t =~ /\G$WS/gc;
            next if $$t =~ /\G,$WS/gc;
            return \@a if $$t =~ /\G\]/gc;
            die "expected ',' or ']' at offset " . pos($$t) . "\n";
        }
    }
    if ($$t =~ /\G(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)/gc) {
        my $n = 0 + $1;
        if ($n != $n || $n == 9**9**9 || $n == -9**9**9) {
            die "number $1 is beyond the binary64 range\n" if $p->{overflow};
        }
        return $n;
    }
    return true()  if $$t =~ /\Gtrue/gc;
    return false() if $$t =~ /\Gfalse/gc;
    return undef   if $$t =~ /\Gnull/gc;
    die "unexpected " . (pos($$t) < length $$t ? "character" : "end of text") . " at offset " . (pos($$t) // 0) . "\n";
}

sub _string ($t) {
    $$t =~ /\G((?:[^"\\\x00-\x1F]++|\\["\\\/bfnrt]|\\u[0-9A-Fa-f]{4})*+)"/gc
        or die "invalid string at offset " . pos($$t) . "\n";
    my $raw = $1;
    return $raw unless index($raw, '\\') >= 0;
    $raw =~ s{\\(?:u([dD][89abAB][0-9A-Fa-f]{2})\\u([dD][c-fC-F][0-9A-Fa-f]{2})|u([0-9A-Fa-f]{4})|(.))}{
        defined $1 ? chr(0x10000 + ((hex($1) - 0xD800) << 10) + (hex($2) - 0xDC00))
      : defined $3 ? do { no warnings; chr(hex $3) }
      : $ESC{$4}
    }gse;
    return $raw;
}

# Encodes a value to JSON text (characters); the caller encodes to UTF-8. Hash keys are sorted.
sub to_text ($v) {
    return 'null' unless defined $v;
    my $r = ref $v;
    if (!$r) {
        return number_text($v) if is_number($v);
        return string_text($v);
    }
    return $$v ? 'true' : 'false' if $r eq 'JSON::PP::Boolean';
    return '[' . join(',', map { to_text($_) } @$v) . ']' if $r eq 'ARRAY';
    return '{' . join(',', map { string_text($_) . ':' . to_text($v->{$_}) } sort keys %$v) . '}' if $r eq 'HASH';
    return to_text($v->TO_JSON) if eval { $v->can('TO_JSON') };
    die "Concord::JSON: cannot encode a $r\n";
}

sub encode ($v) {
    my $text = to_text($v);
    utf8::encode($text);
    return $text;
}

sub number_text ($n) {
    die "Concord::JSON: $n is not a finite number\n" if $n != $n || $n == 9**9**9 || $n == -9**9**9;
    my $flags = B::svref_2object(\$n)->FLAGS;
    return "$n" if ($flags & B::SVf_IOK) && !($flags & B::SVf_NOK);
    for my $digits (15, 16, 17) {
        my $s = sprintf('%.*g', $digits, $n);
        return _json_number($s) if $s + 0 == $n;
    }
    return _json_number(sprintf('%.17g', $n));
}

sub _json_number ($s) {
    $s =~ s/^(-?)0+(?=\d)/$1/;    # never a leading zero
    return $s;
}

sub string_text ($s) {
    $s =~ s{([\x00-\x1F"\\\x{D800}-\x{DFFF}\x{2028}\x{2029}])}{
        my $c = $1;
        $c eq '"' ? '\\"' : $c eq '\\' ? '\\\\' : $c eq "\n" ? '\\n' : $c eq "\r" ? '\\r' : $c eq "\t" ? '\\t'
          : sprintf('\\u%04x', ord $c)
    }ge;
    return qq("$s");
}

1;
