package Concord::Frame;
# Framing (spec section 2): u32 big-endian length (pack 'N') then the body. The decoder takes any
# chunking and checks a length against max_frame as soon as its 4 prefix bytes are in, before it
# keeps a single body byte. After a framing fault the decoder stays failed: the stream is lost.
use v5.36;
use Concord::Spec;
use Concord::Protocol qw(:limits :framing :errors);
use Concord::Error;

sub encode_frame ($body) {
    die "encode_frame: a body is never empty\n" unless length $body;
    die "encode_frame: body exceeds 2^32 - 1 bytes\n" if length($body) > 0xFFFFFFFF;
    return pack('N', length $body) . $body;
}

sub new ($class, %opt) {
    return bless { max_frame => $opt{max_frame} // LIMIT_MAX_FRAME, prefix => '', body => '', need => undef, failure => undef }, $class;
}

sub max_frame ($self) { $self->{max_frame} }
sub failed ($self)    { $self->{failure} }

# true when a frame has started but not finished (an end of stream now truncates it).
sub mid_frame ($self) { length($self->{prefix}) > 0 || defined $self->{need} }

# Bytes held for an incomplete frame (prefix bytes plus body bytes received so far).
sub buffered ($self) { length($self->{prefix}) + length($self->{body}) }

# Feeds a chunk; returns the bodies it completes. A framing fault dies with a Concord::Error whose
# frames_before holds the bodies completed earlier in the same chunk. No byte of a refused body
# is kept: the length is checked as soon as its 4 bytes are in.
sub push ($self, $chunk) {
    die $self->{failure} if $self->{failure};
    my @out;
    my ($i, $n) = (0, length $chunk);
    while ($i < $n) {
        if (!defined $self->{need}) {
            my $take = LENGTH_PREFIX_BYTES - length $self->{prefix};
            $take = $n - $i if $n - $i < $take;
            $self->{prefix} .= substr($chunk, $i, $take);
            $i += $take;
            next if length($self->{prefix}) < LENGTH_PREFIX_BYTES;
            my $length = unpack('N', $self->{prefix});
            $self->{prefix} = '';
            my $error;
            if ($length == 0) {
                $error = Concord::Error->new(ERR_MALFORMED_FRAME, 'frame length is 0', rule => 'zero-length');
            } elsif ($length > $self->{max_frame}) {
                $error = Concord::Error->new(ERR_FRAME_TOO_LARGE, "frame length $length exceeds max_frame $self->{max_frame}",
                    rule => 'max-frame', limit => $self->{max_frame});
            }
            if ($error) {
                $error->frames_before([@out]);
                $self->{failure} = $error;
                die $error;
            }
            $self->{need} = $length;
            $self->{body} = '';
            next;
        }
        my $take = $self->{need} - length $self->{body};
        $take = $n - $i if $n - $i < $take;
        if ($take == $self->{need} && $i == 0 && $n == $take) { $self->{body} = $chunk } else { $self->{body} .= substr($chunk, $i, $take) }
        $i += $take;
        if (length($self->{body}) == $self->{need}) {
            CORE::push @out, $self->{body};
            $self->{body} = '';
            $self->{need} = undef;
        }
    }
    return @out;
}

1;
