// Umbrella header of the Concord C++ client library.
#pragma once

#include <concord/catalog.hpp>
#include <concord/cbor.hpp>
#include <concord/codec.hpp>
#include <concord/envelope.hpp>
#include <concord/errors.hpp>
#include <concord/frame.hpp>
#include <concord/ndarray.hpp>
#include <concord/protocol.hpp>
#include <concord/text.hpp>
#include <concord/client.hpp>
#include <concord/messages.hpp>
#include <concord/reconnect.hpp>
#include <concord/session.hpp>
