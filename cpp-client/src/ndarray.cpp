#include <concord/ndarray.hpp>
#include <concord/text.hpp>

#include <algorithm>
#include <cmath>

namespace concord {

namespace {

bool host_little() {
  const std::uint16_t one = 1;
  std::uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

bool needs_swap(const protocol::DtypeInfo& d) {
  char order = d.code[0];
  if (order == '|') return false;
  return (order == '<') != host_little();
}

void swap_items(std::uint8_t* p, std::size_t n, std::size_t width) {
  if (width <= 1) return;
  for (std::size_t i = 0; i + width <= n; i += width) std::reverse(p + i, p + i + width);
}

void put_u64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

[[noreturn]] void fail(const std::string& path, const char* rule, const std::string& message) {
  raise(ErrorCode::InvalidArray, (path.empty() ? std::string("/") : path) + ": " + message, {{"path", path}, {"rule", rule}});
}

}  // namespace

const protocol::DtypeInfo* find_dtype(std::string_view code) {
  for (const auto& d : protocol::kDtypes) if (d.code == code) return &d;
  return nullptr;
}

NDArray::NDArray(std::string dtype, std::vector<std::uint64_t> shape, Bytes data, json meta)
    : dtype_(std::move(dtype)), info_(find_dtype(dtype_)), shape_(std::move(shape)), data_(std::move(data)), meta_(std::move(meta)) {
  if (!info_) throw std::invalid_argument("NDArray: unknown dtype " + dtype_);
  if (shape_.size() > protocol::kNdarrayMaxNdim) throw std::invalid_argument("NDArray: more than 32 dimensions");
  if (!meta_.is_object()) throw std::invalid_argument("NDArray: meta must be a JSON object");
  unsigned __int128 count = 1;
  for (auto d : shape_) {
    count *= d;
    if (count > (unsigned __int128)0xFFFFFFFFFFFFFFFFull) throw std::invalid_argument("NDArray: shape too large");
  }
  if (count * info_->itemsize != data_.size()) throw std::invalid_argument("NDArray: data does not fill the shape");
  if (info_->kind == 'b') {
    for (auto b : data_) if (b > 1) throw std::invalid_argument("NDArray: bool element other than 0 or 1");
  }
}

Bytes NDArray::pack() const {
  std::string meta = meta_.empty() ? std::string("{}") : meta_.dump();
  Bytes out;
  out.reserve(8 * (4 + shape_.size()) + dtype_.size() + data_.size() + meta.size());
  put_u64(out, shape_.size());
  for (auto d : shape_) put_u64(out, d);
  put_u64(out, dtype_.size());
  out.insert(out.end(), dtype_.begin(), dtype_.end());
  put_u64(out, data_.size());
  std::size_t at = out.size();
  out.insert(out.end(), data_.begin(), data_.end());
  if (needs_swap(*info_)) swap_items(out.data() + at, data_.size(), info_->itemsize);
  put_u64(out, meta.size());
  out.insert(out.end(), meta.begin(), meta.end());
  return out;
}

NDArray NDArray::unpack(const std::uint8_t* b, std::size_t n, const std::string& path) {
  std::size_t off = 0;
  auto remaining = [&]() -> std::uint64_t { return n - off; };
  // 2. ndim present
  if (remaining() < 8) fail(path, "truncated", "ndarray ends inside ndim");
  std::uint64_t ndim = get_u64(b + off);
  off += 8;
  // 3. ndim range
  if (ndim > protocol::kNdarrayMaxNdim) fail(path, "ndim-range", "ndim " + std::to_string(ndim) + " exceeds 32");
  // 4. dims and dtype_len present
  if (remaining() < 8 * ndim + 8) fail(path, "truncated", "ndarray ends inside the dims or dtype_len");
  std::vector<std::uint64_t> dims(ndim);
  for (std::uint64_t i = 0; i < ndim; ++i, off += 8) dims[i] = get_u64(b + off);
  std::uint64_t dtype_len = get_u64(b + off);
  off += 8;
  // 5. dtype_len <= 16
  if (dtype_len > protocol::kNdarrayMaxDtypeLen) fail(path, "dtype-unknown", "dtype_len " + std::to_string(dtype_len) + " exceeds 16");
  // 6. dtype bytes present
  if (remaining() < dtype_len) fail(path, "truncated", "ndarray ends inside the dtype");
  std::string dtype(reinterpret_cast<const char*>(b + off), dtype_len);
  off += dtype_len;
  // 7. dtype listed
  const protocol::DtypeInfo* info = find_dtype(dtype);
  if (!info) fail(path, "dtype-unknown", "dtype is not one of the listed codes");
  // 8. data_len present
  if (remaining() < 8) fail(path, "truncated", "ndarray ends inside data_len");
  std::uint64_t data_len = get_u64(b + off);
  off += 8;
  // 9. data_len = product(dims) x itemsize, exactly
  bool zero = std::find(dims.begin(), dims.end(), 0) != dims.end();
  unsigned __int128 expect = info->itemsize;
  bool overflow = false;
  if (zero) {
    expect = 0;
  } else {
    for (auto d : dims) {
      expect *= d;
      if (expect > (unsigned __int128)0xFFFFFFFFFFFFFFFFull) { overflow = true; break; }
    }
  }
  if (overflow || expect != data_len) fail(path, "data-length", "data_len " + std::to_string(data_len) + " differs from product(dims) x itemsize");
  // 10. data, meta_len and meta present
  if (remaining() < data_len) fail(path, "truncated", "ndarray ends inside the data");
  const std::uint8_t* data = b + off;
  off += data_len;
  if (remaining() < 8) fail(path, "truncated", "ndarray ends inside meta_len");
  std::uint64_t meta_len = get_u64(b + off);
  off += 8;
  if (remaining() < meta_len) fail(path, "truncated", "ndarray ends inside the meta");
  const std::uint8_t* meta_bytes = b + off;
  off += meta_len;
  // 11. meta is a UTF-8 JSON object
  json meta;
  if (meta_len == 2 && meta_bytes[0] == '{' && meta_bytes[1] == '}') {
    meta = json::object();
  } else {
    std::string why;
    auto parsed = parse_json_strict(meta_bytes, meta_len, &why);
    if (!parsed) fail(path, "meta-json", "meta is not UTF-8 JSON (" + why + ")");
    if (!parsed->is_object()) fail(path, "meta-json", "meta is not a JSON object");
    meta = std::move(*parsed);
  }
  // 12. nothing after meta
  if (off != n) fail(path, "trailing-bytes", std::to_string(n - off) + " bytes follow the meta block");
  // 13. bool elements are 0 or 1
  if (info->kind == 'b') {
    for (std::uint64_t i = 0; i < data_len; ++i) {
      if (data[i] > 1) fail(path, "bool-value", "bool element " + std::to_string(i) + " is " + std::to_string(data[i]));
    }
  }
  Bytes host(data, data + data_len);
  if (needs_swap(*info)) swap_items(host.data(), host.size(), info->itemsize);
  NDArray a;
  a.dtype_ = std::move(dtype);
  a.info_ = info;
  a.shape_ = std::move(dims);
  a.data_ = std::move(host);
  a.meta_ = std::move(meta);
  return a;
}

namespace {

json float_json(double v) {
  if (std::isnan(v)) return {{"$float", "NaN"}};
  if (std::isinf(v)) return {{"$float", v > 0 ? "Infinity" : "-Infinity"}};
  if (v == 0 && std::signbit(v)) return {{"$float", "-0"}};
  return v;
}

double float_from_json(const json& v) {
  if (v.is_object()) {
    std::string s = v.at("$float").get<std::string>();
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return HUGE_VAL;
    if (s == "-Infinity") return -HUGE_VAL;
    if (s == "-0") return -0.0;
    throw std::invalid_argument("bad $float " + s);
  }
  return v.get<double>();
}

template <class T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
void store(Bytes& out, T v) {
  std::uint8_t buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.insert(out.end(), buf, buf + sizeof(T));
}

}  // namespace

json NDArray::to_typed_json() const {
  json data = json::array();
  const std::uint8_t* p = data_.data();
  std::size_t w = info_->itemsize;
  for (std::size_t i = 0; i < size(); ++i, p += w) {
    switch (info_->kind) {
      case 'b': data.push_back(*p == 1); break;
      case 'i':
        if (w == 1) data.push_back(load<std::int8_t>(p));
        else if (w == 2) data.push_back(load<std::int16_t>(p));
        else if (w == 4) data.push_back(load<std::int32_t>(p));
        else data.push_back(std::to_string(load<std::int64_t>(p)));
        break;
      case 'u':
        if (w == 1) data.push_back(load<std::uint8_t>(p));
        else if (w == 2) data.push_back(load<std::uint16_t>(p));
        else if (w == 4) data.push_back(load<std::uint32_t>(p));
        else data.push_back(std::to_string(load<std::uint64_t>(p)));
        break;
      default:
        data.push_back(float_json(w == 4 ? static_cast<double>(load<float>(p)) : load<double>(p)));
    }
  }
  return {{"$ndarray", {{"dtype", dtype_}, {"shape", shape_}, {"data", data}, {"meta", meta_}}}};
}

NDArray NDArray::from_typed_json(const json& j) {
  const json& o = j.at("$ndarray");
  std::string dtype = o.at("dtype").get<std::string>();
  const auto* info = find_dtype(dtype);
  if (!info) throw std::invalid_argument("from_typed_json: unknown dtype " + dtype);
  Bytes raw;
  for (const auto& v : o.at("data")) {
    switch (info->kind) {
      case 'b': raw.push_back(v.get<bool>() ? 1 : 0); break;
      case 'i':
        if (info->itemsize == 1) store<std::int8_t>(raw, v.get<std::int8_t>());
        else if (info->itemsize == 2) store<std::int16_t>(raw, v.get<std::int16_t>());
        else if (info->itemsize == 4) store<std::int32_t>(raw, v.get<std::int32_t>());
        else store<std::int64_t>(raw, v.is_string() ? std::stoll(v.get<std::string>()) : v.get<std::int64_t>());
        break;
      case 'u':
        if (info->itemsize == 1) store<std::uint8_t>(raw, v.get<std::uint8_t>());
        else if (info->itemsize == 2) store<std::uint16_t>(raw, v.get<std::uint16_t>());
        else if (info->itemsize == 4) store<std::uint32_t>(raw, v.get<std::uint32_t>());
        else store<std::uint64_t>(raw, v.is_string() ? std::stoull(v.get<std::string>()) : v.get<std::uint64_t>());
        break;
      default:
        if (info->itemsize == 4) store<float>(raw, static_cast<float>(float_from_json(v)));
        else store<double>(raw, float_from_json(v));
    }
  }
  return NDArray(dtype, o.at("shape").get<std::vector<std::uint64_t>>(), std::move(raw), o.value("meta", json::object()));
}

json ndarray_value(const NDArray& a) { return json::binary(a.pack(), protocol::kNdarrayCborTag); }

bool is_ndarray_value(const json& j) {
  return j.is_binary() && j.get_binary().has_subtype() && j.get_binary().subtype() == protocol::kNdarrayCborTag;
}

NDArray ndarray_from_value(const json& j) {
  if (!is_ndarray_value(j)) throw std::invalid_argument("ndarray_from_value: not an ndarray value");
  const auto& b = j.get_binary();
  return NDArray::unpack(b.data(), b.size());
}

void check_ndarray_rule(const NDArray& a, const json& rule, const std::string& path) {
  bool listed = false;
  for (const auto& d : rule.value("dtypes", json::array())) if (d.is_string() && d.get<std::string>() == a.dtype_name()) listed = true;
  if (!listed) fail(path, "field-dtype", "dtype " + a.dtype() + " is not one the field allows");
  if (rule.contains("ndim") && a.ndim() != rule["ndim"].get<std::size_t>()) {
    fail(path, "field-shape", "has " + std::to_string(a.ndim()) + " dimensions, the field needs " + rule["ndim"].dump());
  }
  if (rule.contains("shape") && rule["shape"].is_array()) {
    const auto& want = rule["shape"];
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (want[i].is_null()) continue;
      if (i >= a.ndim() || a.shape()[i] != want[i].get<std::uint64_t>()) fail(path, "field-shape", "dimension " + std::to_string(i) + " differs from the field's");
    }
  }
  if (rule.contains("minSize") && a.size() < rule["minSize"].get<std::uint64_t>()) {
    fail(path, "field-shape", "has " + std::to_string(a.size()) + " elements, the field needs at least " + rule["minSize"].dump());
  }
  if (rule.contains("maxSize") && a.size() > rule["maxSize"].get<std::uint64_t>()) {
    fail(path, "field-shape", "has " + std::to_string(a.size()) + " elements, the field allows at most " + rule["maxSize"].dump());
  }
}

}  // namespace concord
