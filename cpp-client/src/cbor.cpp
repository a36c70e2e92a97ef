#include <concord/cbor.hpp>
#include <concord/text.hpp>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace concord {

namespace {

class Reader {
 public:
  Reader(const std::uint8_t* b, std::size_t n) : b_(b), n_(n) {}

  CborItem item(std::size_t depth) {
    if (depth > kMaxNesting) throw std::runtime_error("CBOR nests deeper than " + std::to_string(kMaxNesting));
    std::uint8_t ib = byte();
    if (ib == 0xFF) throw std::runtime_error("break outside an indefinite-length item");
    return item_after(ib, depth);
  }

  bool at_end() const { return i_ == n_; }
  std::size_t offset() const { return i_; }

 private:
  std::uint8_t byte() {
    if (i_ >= n_) throw std::runtime_error("CBOR ends early");
    return b_[i_++];
  }

  std::uint64_t argument(std::uint8_t ai) {
    if (ai < 24) return ai;
    int len = ai == 24 ? 1 : ai == 25 ? 2 : ai == 26 ? 4 : ai == 27 ? 8 : 0;
    if (len == 0) throw std::runtime_error("reserved additional information " + std::to_string(ai));
    if (n_ - i_ < static_cast<std::size_t>(len)) throw std::runtime_error("CBOR ends inside an argument");
    std::uint64_t v = 0;
    for (int k = 0; k < len; ++k) v = (v << 8) | b_[i_++];
    return v;
  }

  std::string chunked(std::uint8_t major) {
    std::string out;
    for (;;) {
      std::uint8_t ib = byte();
      if (ib == 0xFF) return out;
      if ((ib >> 5) != major || (ib & 31) == 31) throw std::runtime_error("bad chunk in an indefinite-length string");
      std::uint64_t len = argument(ib & 31);
      if (len > n_ - i_) throw std::runtime_error("CBOR string longer than the input");
      out.append(reinterpret_cast<const char*>(b_ + i_), len);
      i_ += len;
    }
  }

  static double half(std::uint16_t h) {
    int exp = (h >> 10) & 0x1F;
    int mant = h & 0x3FF;
    double v;
    if (exp == 0) v = std::ldexp(mant, -24);
    else if (exp != 31) v = std::ldexp(mant + 1024, exp - 25);
    else v = mant == 0 ? HUGE_VAL : std::nan("");
    return (h & 0x8000) ? -v : v;
  }

  CborItem item_after(std::uint8_t ib, std::size_t depth) {
    CborItem it;
    std::uint8_t major = ib >> 5, ai = ib & 31;
    switch (major) {
      case 0:
      case 1:
        if (ai == 31) throw std::runtime_error("indefinite length on an integer");
        it.kind = major == 0 ? CborItem::Kind::Unsigned : CborItem::Kind::Negative;
        it.number = argument(ai);
        return it;
      case 2:
      case 3: {
        it.kind = major == 2 ? CborItem::Kind::Bytes : CborItem::Kind::Text;
        if (ai == 31) {
          it.text = chunked(major);
        } else {
          std::uint64_t len = argument(ai);
          if (len > n_ - i_) throw std::runtime_error("CBOR string longer than the input");
          it.text.assign(reinterpret_cast<const char*>(b_ + i_), len);
          i_ += len;
        }
        if (major == 3 && !is_utf8(it.text)) throw std::runtime_error("text string is not UTF-8");
        return it;
      }
      case 4: {
        it.kind = CborItem::Kind::Array;
        if (ai == 31) {
          for (;;) {
            if (i_ < n_ && b_[i_] == 0xFF) { ++i_; break; }
            it.items.push_back(item(depth + 1));
          }
        } else {
          std::uint64_t count = argument(ai);
          if (count > n_ - i_) throw std::runtime_error("CBOR array longer than the input");
          it.items.reserve(count);
          for (std::uint64_t k = 0; k < count; ++k) it.items.push_back(item(depth + 1));
        }
        return it;
      }
      case 5: {
        it.kind = CborItem::Kind::Map;
        if (ai == 31) {
          for (;;) {
            if (i_ < n_ && b_[i_] == 0xFF) { ++i_; break; }
            CborItem k = item(depth + 1);
            CborItem v = item(depth + 1);
            it.entries.emplace_back(std::move(k), std::move(v));
          }
        } else {
          std::uint64_t count = argument(ai);
          if (count > (n_ - i_) / 2) throw std::runtime_error("CBOR map longer than the input");
          it.entries.reserve(count);
          for (std::uint64_t k = 0; k < count; ++k) {
            CborItem key = item(depth + 1);
            CborItem v = item(depth + 1);
            it.entries.emplace_back(std::move(key), std::move(v));
          }
        }
        return it;
      }
      case 6:
        if (ai == 31) throw std::runtime_error("indefinite length on a tag");
        it.kind = CborItem::Kind::Tag;
        it.number = argument(ai);
        it.items.push_back(item(depth + 1));
        return it;
      default:
        break;
    }
    // major 7
    if (ai < 20) { it.kind = CborItem::Kind::Simple; it.number = ai; return it; }
    switch (ai) {
      case 20: it.kind = CborItem::Kind::Bool; it.boolean = false; return it;
      case 21: it.kind = CborItem::Kind::Bool; it.boolean = true; return it;
      case 22: it.kind = CborItem::Kind::Null; return it;
      case 23: it.kind = CborItem::Kind::Undefined; return it;
      case 24: {
        std::uint8_t v = byte();
        if (v < 32) throw std::runtime_error("two-byte simple value below 32");
        it.kind = CborItem::Kind::Simple;
        it.number = v;
        return it;
      }
      case 25: { it.kind = CborItem::Kind::Float; it.real = half(static_cast<std::uint16_t>(argument(25))); return it; }
      case 26: {
        auto bits = static_cast<std::uint32_t>(argument(26));
        float f;
        std::memcpy(&f, &bits, 4);
        it.kind = CborItem::Kind::Float;
        it.real = f;
        return it;
      }
      case 27: {
        std::uint64_t bits = argument(27);
        double d;
        std::memcpy(&d, &bits, 8);
        it.kind = CborItem::Kind::Float;
        it.real = d;
        return it;
      }
      default:
        throw std::runtime_error("reserved additional information " + std::to_string(ai) + " in major type 7");
    }
  }

  const std::uint8_t* b_;
  std::size_t n_;
  std::size_t i_ = 0;
};

// Decimal digits of a big unsigned integer held as big-endian bytes.
std::string big_decimal(std::vector<std::uint8_t> mag) {
  std::string digits;
  auto is_zero = [&] {
    for (auto b : mag) if (b) return false;
    return true;
  };
  if (is_zero()) return "0";
  while (!is_zero()) {
    unsigned rem = 0;
    for (auto& b : mag) {
      unsigned cur = rem * 256 + b;
      b = static_cast<std::uint8_t>(cur / 10);
      rem = cur % 10;
    }
    digits.push_back(static_cast<char>('0' + rem));
  }
  return std::string(digits.rbegin(), digits.rend());
}

// magnitude + 1 for negative integers and bignums (big-endian bytes)
std::vector<std::uint8_t> plus_one(std::vector<std::uint8_t> mag) {
  for (auto it = mag.rbegin(); it != mag.rend(); ++it) {
    if (++*it != 0) return mag;
  }
  mag.insert(mag.begin(), 1);
  return mag;
}

std::vector<std::uint8_t> u64_bytes(std::uint64_t v) {
  std::vector<std::uint8_t> out(8);
  for (int k = 7; k >= 0; --k, v >>= 8) out[k] = static_cast<std::uint8_t>(v & 0xFF);
  return out;
}

constexpr std::uint64_t kSafe = (1ull << 53) - 1;

json float_typed(double v) {
  if (std::isnan(v)) return {{"$float", "NaN"}};
  if (std::isinf(v)) return {{"$float", v > 0 ? "Infinity" : "-Infinity"}};
  if (v == 0 && std::signbit(v)) return {{"$float", "-0"}};
  return v;
}

}  // namespace

CborItem cbor_decode(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) throw std::runtime_error("empty CBOR input");
  Reader r(bytes, size);
  CborItem it = r.item(0);
  if (!r.at_end()) throw std::runtime_error(std::to_string(size - r.offset()) + " bytes follow the CBOR item");
  return it;
}

json cbor_to_typed_json(const CborItem& it) {
  using K = CborItem::Kind;
  switch (it.kind) {
    case K::Unsigned:
      if (it.number <= kSafe) return it.number;
      return {{"$bigint", std::to_string(it.number)}};
    case K::Negative:
      if (it.number < kSafe) return -static_cast<std::int64_t>(it.number) - 1;
      return {{"$bigint", "-" + big_decimal(plus_one(u64_bytes(it.number)))}};
    case K::Bytes: return {{"$bytes", to_hex(reinterpret_cast<const std::uint8_t*>(it.text.data()), it.text.size())}};
    case K::Text: return it.text;
    case K::Array: {
      json a = json::array();
      for (const auto& x : it.items) a.push_back(cbor_to_typed_json(x));
      return a;
    }
    case K::Map: {
      bool text_keys = true;
      for (const auto& [k, v] : it.entries) if (k.kind != K::Text) text_keys = false;
      if (text_keys) {
        json o = json::object();
        for (const auto& [k, v] : it.entries) o[k.text] = cbor_to_typed_json(v);
        return o;
      }
      json pairs = json::array();
      for (const auto& [k, v] : it.entries) pairs.push_back(json::array({cbor_to_typed_json(k), cbor_to_typed_json(v)}));
      return {{"$map", pairs}};
    }
    case K::Tag: {
      const CborItem& v = it.items.front();
      if ((it.number == 2 || it.number == 3) && v.kind == K::Bytes) {
        std::vector<std::uint8_t> mag(v.text.begin(), v.text.end());
        if (it.number == 2) return {{"$bigint", big_decimal(mag)}};
        return {{"$bigint", "-" + big_decimal(plus_one(mag))}};
      }
      return {{"$tag", it.number}, {"value", cbor_to_typed_json(v)}};
    }
    case K::Simple: return {{"$simple", it.number}};
    case K::Bool: return it.boolean;
    case K::Null: return nullptr;
    case K::Undefined: return {{"$undefined", true}};
    case K::Float: return float_typed(it.real);
  }
  return nullptr;
}

Bytes cbor_encode(const json& value) { return json::to_cbor(value); }

}  // namespace concord
