package Concord::Session;
# What a broker forgets when a connection closes (HS-19) and a reconnecting client restores (HS-24):
# bus subscriptions, bus handlers and registered services, recorded as the broker accepts them. The
# application keeps the subscription ids it was given: after a restore, BUS_UNSUBSCRIBE is
# translated to the new id and each BUS_EVENT back to the original one.
use v5.36;
use Concord::Protocol qw(:names :errors);

sub new ($class) { bless { subscriptions => {}, handlers => {}, services => {}, order => 0 }, $class }

# The payload to send for TYPE: an unsubscription names the subscription's current id.
sub outgoing ($self, $type, $payload) {
    return $payload unless $type eq NAME_BUS_UNSUBSCRIBE && ref $payload eq 'HASH';
    my $sub = $self->{subscriptions}{ $payload->{subscription_id} // '' } or return $payload;
    return { %$payload, subscription_id => $sub->{current_id} };
}

# Records a request the broker accepted (PAYLOAD as the application gave it).
sub accepted ($self, $type, $payload, $answer) {
    return unless ref $payload eq 'HASH';
    my $n = ++$self->{order};
    if ($type eq NAME_BUS_SUBSCRIBE && ref $answer eq 'HASH') {
        $self->{subscriptions}{ $answer->{subscription_id} } = { event_type => $payload->{event_type}, current_id => $answer->{subscription_id}, order => $n };
    } elsif ($type eq NAME_BUS_UNSUBSCRIBE) {
        delete $self->{subscriptions}{ $payload->{subscription_id} // '' };
    } elsif ($type eq NAME_BUS_REGISTER_HANDLER) {
        $self->{handlers}{ $payload->{message_type} } = { payload => {%$payload}, order => $n };
    } elsif ($type eq NAME_BUS_UNREGISTER_HANDLER) {
        delete $self->{handlers}{ $payload->{message_type} // '' };
    } elsif ($type eq NAME_SERVICE_REGISTER) {
        $self->{services}{ $payload->{service}{name} } = { payload => {%$payload}, order => $n };
    } elsif ($type eq NAME_SERVICE_UNREGISTER) {
        delete $self->{services}{ $payload->{name} // '' };
    }
}

# The payload the application sees: a BUS_EVENT names the subscription id it was given.
sub incoming ($self, $type, $payload) {
    return $payload unless $type eq NAME_BUS_EVENT && ref $payload eq 'HASH';
    my $current = $payload->{subscription_id} // '';
    for my $original (keys %{ $self->{subscriptions} }) {
        return { %$payload, subscription_id => $original } if $self->{subscriptions}{$original}{current_id} eq $current;
    }
    return $payload;
}

# Replays every record through REQUEST->(TYPE, PAYLOAD) (the answer's payload, or dies): services,
# then handlers, then subscriptions. Returns what the broker refused as [TYPE, PAYLOAD, ERROR],
# each dropped from the record so that it is reported once; a lost connection or a timeout dies and
# keeps the record.
sub restore ($self, $request) {
    my @failures;
    my $replay = sub ($type, $payload) {
        my $answer = eval { $request->($type, $payload) // {} };
        if (!defined $answer) {
            my $e = $@;
            # Lost again or timed out: die and keep the record for the next restore.
            die $e if !ref $e || !$e->can('code') || $e->code eq ERR_PEER_GONE || $e->code eq ERR_TIMEOUT;
            push @failures, [$type, $payload, $e];
        }
        return $answer;
    };
    my $by_order = sub ($table) { sort { $table->{$a}{order} <=> $table->{$b}{order} } keys %$table };
    for my $name ($by_order->($self->{services})) {
        delete $self->{services}{$name} unless defined $replay->(NAME_SERVICE_REGISTER, $self->{services}{$name}{payload});
    }
    for my $type ($by_order->($self->{handlers})) {
        delete $self->{handlers}{$type} unless defined $replay->(NAME_BUS_REGISTER_HANDLER, $self->{handlers}{$type}{payload});
    }
    for my $original ($by_order->($self->{subscriptions})) {
        my $sub = $self->{subscriptions}{$original};
        my $answer = $replay->(NAME_BUS_SUBSCRIBE, { event_type => $sub->{event_type} });
        if (defined $answer) { $sub->{current_id} = $answer->{subscription_id} } else { delete $self->{subscriptions}{$original} }
    }
    return \@failures;
}

1;
