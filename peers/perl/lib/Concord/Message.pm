package Concord::Message;
# Whole messages: a frame body decoded through every check of spec section 8 in order (prefix,
# header, type, encoding, payload, arrays, schema), and messages encoded to bodies and frames.
# A decoded message is {type, name, encoding, header, payload}.
use v5.36;
use Exporter 'import';
use Concord::Spec;
use Concord::Protocol qw(:framing %MESSAGE_NAME %MESSAGE_CODE @ENCODINGS :errors);
use Concord::Error;
use Concord::Envelope;
use Concord::Payload;
use Concord::Frame;

our @EXPORT_OK = qw(decode_message encode_message encode_frame accepted_encodings client_encodings);

# What a client offers in INIT, preferred first: CBOR where implemented, so that a broker choosing the
# first it supports (as the reference broker does) lets CBOR senders reach this client (REQ-10).
sub client_encodings () { grep({ $_ eq 'cbor' } Concord::Payload::encodings()) ? ('cbor', 'json') : ('json') }

# The encodings a connection accepts once INIT_ACK chose $chosen: JSON always (ENC-1), CBOR only
# when chosen and implemented (ENC-3).
sub accepted_encodings ($chosen) {
    return ('json', ($chosen // '') eq 'cbor' && grep({ $_ eq 'cbor' } Concord::Payload::encodings()) ? ('cbor') : ());
}

# decode_message($body, encodings => ['json'], max_header => N). Faults die as Concord::Error with
# frame_id set when the header was readable.
sub decode_message ($body, %opt) {
    my $env = Concord::Envelope::decode_envelope($body, %opt);
    my $ok = eval {
        my $info = exists $MESSAGE_NAME{ $env->{type} } ? Concord::Spec::message_by_code($env->{type}) : undef;
        Concord::Error->throw(ERR_UNKNOWN_TYPE, sprintf('type code 0x%02x is not in the catalog', $env->{type}), rule => 'type') unless $info;
        my $encoding = $ENCODINGS[ $env->{encoding_bits} ];
        Concord::Error->throw(ERR_UNSUPPORTED_ENCODING, "payload encoding $env->{encoding_bits} is reserved", rule => 'encoding') unless defined $encoding;
        my $accepted = $opt{encodings} // ['json'];
        Concord::Error->throw(ERR_UNSUPPORTED_ENCODING, "payload encoding $encoding was not negotiated", rule => 'encoding')
            unless grep { $_ eq $encoding } @$accepted;
        Concord::Error->throw(ERR_UNSUPPORTED_ENCODING, "payload encoding $encoding is not implemented by this peer", rule => 'encoding')
            unless grep { $_ eq $encoding } Concord::Payload::encodings();
        my $payload = Concord::Payload::decode_payload($info, $env->{payload}, $encoding);
        $env->{message} = { type => $info->{code}, name => $info->{name}, encoding => $encoding, header => $env->{header}, payload => $payload };
        1;
    };
    if (!$ok) {
        my $e = $@;
        if (Concord::Error::is_error($e)) {
            $e->frame_id($env->{header}{id});
            die $e;
        }
        die $e;
    }
    return $env->{message};
}

# encode_message({type => NAME or CODE, header => {...}, payload => ..., encoding => 'json'}) -> body bytes.
sub encode_message ($m) {
    my $info = $m->{type} =~ /\A[0-9]+\z/ ? Concord::Spec::message_by_code($m->{type}) : Concord::Spec::message_by_name($m->{type});
    die "encode_message: unknown type $m->{type}\n" unless $info;
    my $encoding = $m->{encoding} // 'json';
    die "encode_message: this peer does not encode $encoding\n" unless grep { $_ eq $encoding } Concord::Payload::encodings();
    my $payload = Concord::Payload::encode_payload($info, $m->{payload}, $encoding);
    return Concord::Envelope::encode_envelope($info->{code}, $encoding, $m->{header}, $payload);
}

# The whole frame, length prefix included.
sub encode_frame ($m) { Concord::Frame::encode_frame(encode_message($m)) }

1;
