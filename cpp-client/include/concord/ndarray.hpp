// The binary array layout (spec section 5, decision D4), driven by the generated dtype table.
#pragma once

#include <concord/errors.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace concord {

/// The generated dtype entry for a code (`<f4`, `|b1`, ...), or nullptr when the code is not listed.
const protocol::DtypeInfo* find_dtype(std::string_view code);

/**
 * An n-dimensional array. `data()` holds the elements in host byte order, C order, whatever the
 * byte order of the wire dtype; `dtype()` keeps the wire code, so packing reproduces its order.
 */
class NDArray {
 public:
  NDArray() : NDArray("|u1", {0}, {}) {}
  /// `data` in host order; throws std::invalid_argument when it does not fill `shape`.
  NDArray(std::string dtype, std::vector<std::uint64_t> shape, Bytes data, json meta = json::object());

  /// An array of host values; T must match the dtype's kind and item size (bool: uint8_t 0/1).
  template <class T>
  static NDArray from_values(std::string dtype, std::vector<std::uint64_t> shape, const std::vector<T>& values, json meta = json::object()) {
    static_assert(std::is_arithmetic_v<T>, "NDArray::from_values: arithmetic element type");
    Bytes raw(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
    NDArray a(std::move(dtype), std::move(shape), std::move(raw), std::move(meta));
    if (a.itemsize() != sizeof(T)) throw std::invalid_argument("NDArray::from_values: element size differs from the dtype's");
    return a;
  }
  /// A 1-d little-endian float32 array (`<f4`).
  static NDArray vector_f4(const std::vector<float>& values) { return from_values<float>("<f4", {values.size()}, values); }

  const std::string& dtype() const noexcept { return dtype_; }
  std::string_view dtype_name() const noexcept { return info_->name; }
  char kind() const noexcept { return info_->kind; }
  std::size_t itemsize() const noexcept { return info_->itemsize; }
  const std::vector<std::uint64_t>& shape() const noexcept { return shape_; }
  std::size_t ndim() const noexcept { return shape_.size(); }
  std::size_t size() const noexcept { return data_.size() / info_->itemsize; }
  const Bytes& data() const noexcept { return data_; }
  const json& meta() const noexcept { return meta_; }

  /// The elements as host values of type T (sizeof(T) must equal the item size).
  template <class T>
  std::vector<T> values() const {
    if (sizeof(T) != itemsize()) throw std::invalid_argument("NDArray::values: element size differs from the dtype's");
    std::vector<T> out(size());
    if (!out.empty()) std::memcpy(out.data(), data_.data(), data_.size());
    return out;
  }

  /// The D4 layout, every u64 little-endian, data in the dtype's byte order (ARR-1).
  Bytes pack() const;
  /**
   * Decodes the D4 layout, checking the rules of the section 5 table in its order (truncated,
   * ndim-range, dtype-unknown, data-length, meta-json, trailing-bytes, bool-value). Faults are
   * ArrayErrors with details {path, rule}.
   */
  static NDArray unpack(const std::uint8_t* bytes, std::size_t size, const std::string& path = "");
  static NDArray unpack(const Bytes& b, const std::string& path = "") { return unpack(b.data(), b.size(), path); }

  /// The typed-JSON form of fixtures: {"$ndarray": {dtype, shape, data, meta}}.
  json to_typed_json() const;
  /// Builds an array from the typed-JSON form.
  static NDArray from_typed_json(const json& j);

  bool operator==(const NDArray& o) const { return dtype_ == o.dtype_ && shape_ == o.shape_ && data_ == o.data_ && meta_ == o.meta_; }
  bool operator!=(const NDArray& o) const { return !(*this == o); }

 private:
  std::string dtype_;
  const protocol::DtypeInfo* info_;
  std::vector<std::uint64_t> shape_;
  Bytes data_;
  json meta_;
};

/// The application-model value of an ndarray field: a binary value with subtype 49344 holding the layout.
json ndarray_value(const NDArray& a);
/// true when `j` is an application-model ndarray value.
bool is_ndarray_value(const json& j);
/// Reads an application-model ndarray value.
NDArray ndarray_from_value(const json& j);

/// Checks a field rule {dtypes, ndim, shape, minSize, maxSize}: rules field-dtype, field-shape.
void check_ndarray_rule(const NDArray& a, const json& rule, const std::string& path);

}  // namespace concord
