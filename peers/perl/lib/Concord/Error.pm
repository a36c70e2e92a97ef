package Concord::Error;
# A protocol fault: a code from the error registry (spec/errors.json via the generated %ERRORS),
# a message, and details (path, rule, limit). `definite` and `closes` come from the registry.
use v5.36;
use Concord::Spec;
use Concord::Protocol qw(%ERRORS);

use overload '""' => sub ($self, @) { $self->{code} . ': ' . $self->{message} }, fallback => 1;

sub new ($class, $code, $message, %details) {
    die "Concord::Error: $code is not in the error registry\n" unless exists $ERRORS{$code};
    return bless { code => $code, message => $message, details => \%details }, $class;
}

sub throw ($class, @args) { die $class->new(@args) }

sub code ($self)     { $self->{code} }
sub message ($self)  { $self->{message} }
sub details ($self)  { $self->{details} }
sub path ($self)     { $self->{details}{path} }
sub rule ($self)     { $self->{details}{rule} }
sub definite ($self) { $ERRORS{ $self->{code} }{definite} ? 1 : 0 }
sub closes ($self)   { $ERRORS{ $self->{code} }{closes} ? 1 : 0 }

# The id of the faulty frame when its header was readable (the ERROR's `re`).
sub frame_id ($self, @set) { $self->{frame_id} = $set[0] if @set; $self->{frame_id} }

# For a framing fault: the whole bodies that preceded it in the same chunk.
sub frames_before ($self, @set) { $self->{frames_before} = $set[0] if @set; $self->{frames_before} // [] }

# The ERROR payload reporting this fault.
sub to_payload ($self) {
    my %p = (code => $self->{code}, message => substr($self->{message}, 0, 4000),
             definite => $self->definite ? Concord::JSON::true() : Concord::JSON::false());
    $p{details} = { %{ $self->{details} } } if %{ $self->{details} };
    return \%p;
}

sub is_error ($value) { ref $value && eval { $value->isa('Concord::Error') } }

1;
