// Readers for Fashion-MNIST (idx files, gzip) and the King James Bible
// (bible-kjv-text's compressed container).
#include <descent/bench/data.h>

#include <ATen/ATen.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sys/stat.h>

namespace descent::bench {

namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// ---- idx files ------------------------------------------------------------------

struct GzFile {
  gzFile f = nullptr;
  std::string path;
  explicit GzFile(const std::string& p) : path(p) {
    f = gzopen(p.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot open " + p);
    gzbuffer(f, 1 << 16);
  }
  ~GzFile() {
    if (f != nullptr) gzclose(f);
  }
  void read(void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    while (n > 0) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
      const int got = gzread(f, out, chunk);
      if (got <= 0) throw std::runtime_error(path + ": truncated or not a gzip file");
      out += got;
      n -= static_cast<std::size_t>(got);
    }
  }
  std::uint32_t be32() {
    unsigned char b[4];
    read(b, 4);
    return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
  }
};

const char* kFashionPackage = "dataset-fashion-mnist";
const char* kKjvPackage = "bible-kjv-text";

}  // namespace

std::string fashion_mnist_dir() { return env_or("DESCENT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"); }

ImageSet load_fashion_mnist(Split split, std::int64_t limit, const std::string& dir_in) {
  const std::string dir = dir_in.empty() ? fashion_mnist_dir() : dir_in;
  const std::string stem = split == Split::train ? "train" : "t10k";
  const std::string img_path = dir + "/" + stem + "-images-idx3-ubyte.gz";
  const std::string lbl_path = dir + "/" + stem + "-labels-idx1-ubyte.gz";
  for (const auto& p : {img_path, lbl_path})
    if (!file_exists(p))
      throw MissingData("Fashion-MNIST file " + p + " not found: install the Debian package " + kFashionPackage +
                            " (apt-get install " + kFashionPackage + ") or point $DESCENT_FASHION_MNIST_DIR at a "
                            "folder with the four *-idx?-ubyte.gz files",
                        kFashionPackage);
  GzFile img(img_path), lbl(lbl_path);
  if (img.be32() != 0x00000803u) throw std::runtime_error(img_path + ": not an idx3 image file");
  if (lbl.be32() != 0x00000801u) throw std::runtime_error(lbl_path + ": not an idx1 label file");
  const std::int64_t n = img.be32();
  const std::int64_t rows = img.be32(), cols = img.be32();
  const std::int64_t nl = lbl.be32();
  if (n != nl) throw std::runtime_error(img_path + ": " + std::to_string(n) + " images but " + std::to_string(nl) +
                                        " labels");
  if (rows != 28 || cols != 28) throw std::runtime_error(img_path + ": images are not 28x28");
  const std::int64_t count = limit < 0 ? n : std::min(limit, n);
  ImageSet out;
  out.images = at::empty({count, 1, rows, cols}, at::kByte);
  img.read(out.images.data_ptr<std::uint8_t>(), static_cast<std::size_t>(count * rows * cols));
  auto labels8 = at::empty({count}, at::kByte);
  lbl.read(labels8.data_ptr<std::uint8_t>(), static_cast<std::size_t>(count));
  if (count > 0 && labels8.max().item<int>() > 9) throw std::runtime_error(lbl_path + ": label outside 0..9");
  out.labels = labels8.to(at::kLong);
  return out;
}

torch::Tensor normalize_images(const torch::Tensor& images) {
  return images.to(at::kFloat).div_(255.0).sub_(0.2860).div_(0.3530);
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

// ---- compress(1) LZW --------------------------------------------------------------
//
// The format (as written by compress 4.x / ncompress): magic 0x1f 0x9d, a flag
// byte (low 5 bits: the largest code width, 9..16; bit 7: block mode), then
// LZW codes packed least-significant bit first. Codes start 9 bits wide; the
// width grows by one when the next dictionary entry would not fit. In block
// mode, code 256 (CLEAR) resets the dictionary and the width. The writer emits
// codes in groups of eight (n_bits bytes); when the width changes or a CLEAR
// arrives, the rest of the current group is padding and is skipped.

std::string decompress_lzw(const unsigned char* data, std::size_t size) {
  if (size < 3 || data[0] != 0x1f || data[1] != 0x9d) throw std::runtime_error("not a compress(1) stream");
  const int max_bits = data[2] & 0x1f;
  const bool block_mode = (data[2] & 0x80) != 0;
  if (max_bits < 9 || max_bits > 16) throw std::runtime_error("compress(1) stream: bad code width");
  const std::uint32_t max_max_code = 1u << max_bits;
  const std::uint32_t first_free = block_mode ? 257 : 256;

  // The dictionary as (prefix code, last byte); strings are rebuilt backwards.
  std::vector<std::uint32_t> prefix(max_max_code);
  std::vector<unsigned char> suffix(max_max_code);
  for (std::uint32_t i = 0; i < 256; ++i) suffix[i] = static_cast<unsigned char>(i);
  std::vector<unsigned char> stack;
  stack.reserve(max_max_code);

  const std::uint64_t total_bits = static_cast<std::uint64_t>(size - 3) * 8;
  const unsigned char* in = data + 3;
  std::uint64_t pos = 0;          // bit position in the code stream
  std::uint64_t codes_in_width = 0;  // codes read since the width last changed
  int n_bits = 9;
  std::uint32_t max_code = (1u << n_bits) - 1;
  std::uint32_t free_ent = first_free;
  std::int64_t old_code = -1;
  unsigned char fin_char = 0;
  std::string out;
  out.reserve(size * 3);

  auto skip_group_rest = [&] {
    const std::uint64_t r = codes_in_width % 8;
    if (r != 0) pos += (8 - r) * static_cast<std::uint64_t>(n_bits);
    codes_in_width = 0;
  };

  while (true) {
    if (free_ent > max_code && n_bits < max_bits) {
      skip_group_rest();
      ++n_bits;
      max_code = n_bits == max_bits ? max_max_code : (1u << n_bits) - 1;
    }
    if (pos + n_bits > total_bits) break;
    std::uint32_t code = 0;
    {
      // Up to 16 bits spanning at most three bytes.
      const std::uint64_t byte = pos >> 3;
      const int shift = static_cast<int>(pos & 7);
      std::uint32_t w = in[byte];
      if (byte + 1 < size - 3) w |= std::uint32_t(in[byte + 1]) << 8;
      if (byte + 2 < size - 3) w |= std::uint32_t(in[byte + 2]) << 16;
      code = (w >> shift) & ((1u << n_bits) - 1);
    }
    pos += n_bits;
    ++codes_in_width;

    if (code == 256 && block_mode) {
      skip_group_rest();
      n_bits = 9;
      max_code = (1u << n_bits) - 1;
      free_ent = first_free;
      old_code = -1;
      continue;
    }
    if (old_code < 0) {
      if (code > 255) throw std::runtime_error("compress(1) stream: corrupt (first code not a literal)");
      fin_char = static_cast<unsigned char>(code);
      out.push_back(static_cast<char>(fin_char));
      old_code = code;
      continue;
    }
    std::uint32_t c = code;
    stack.clear();
    if (c >= free_ent) {
      if (c > free_ent) throw std::runtime_error("compress(1) stream: corrupt (code beyond the dictionary)");
      stack.push_back(fin_char);  // the KwKwK case: the string of old_code plus its first byte
      c = static_cast<std::uint32_t>(old_code);
    }
    while (c >= 256) {
      stack.push_back(suffix[c]);
      c = prefix[c];
    }
    fin_char = suffix[c];
    stack.push_back(fin_char);
    out.append(stack.rbegin(), stack.rend());
    if (free_ent < max_max_code) {
      prefix[free_ent] = static_cast<std::uint32_t>(old_code);
      suffix[free_ent] = fin_char;
      ++free_ent;
    }
    old_code = code;
  }
  return out;
}

// ---- King James Bible -------------------------------------------------------------

std::string kjv_path() { return env_or("DESCENT_KJV_PATH", "/usr/lib/bible.data"); }

std::string KjvText::text() const {
  std::size_t n = 0;
  for (const auto& v : verses) n += v.size() + 1;
  std::string out;
  out.reserve(n);
  for (const auto& v : verses) {
    out += v;
    out += '\n';
  }
  return out;
}

KjvText load_kjv(const std::string& path_in) {
  const std::string path = path_in.empty() ? kjv_path() : path_in;
  if (!file_exists(path))
    throw MissingData("King James Bible text " + path + " not found: install the Debian package " + kKjvPackage +
                          " (apt-get install " + kKjvPackage + ") or point $DESCENT_KJV_PATH at its bible.data",
                      kKjvPackage);
  std::ifstream f(path, std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // bible-kjv's container: "EC02Compressed Data File", a block index, then one
  // compress(1) stream (the index lets the `bible` program seek; we read all).
  if (raw.compare(0, 4, "EC02") != 0) throw std::runtime_error(path + ": not a bible-kjv data file (no EC02 magic)");
  const auto start = raw.find("\x1f\x9d", 4);
  if (start == std::string::npos) throw std::runtime_error(path + ": no compressed stream found");
  const std::string text =
      decompress_lzw(reinterpret_cast<const unsigned char*>(raw.data()) + start, raw.size() - start);

  KjvText out;
  std::size_t p = 0;
  while (p < text.size()) {
    std::size_t e = text.find('\n', p);
    if (e == std::string::npos) e = text.size();
    const std::string line = text.substr(p, e - p);
    p = e + 1;
    // "Ge1:1 In the beginning ...": a book abbreviation (maybe with a leading
    // digit), chapter:verse, a space. Other lines (the title) are skipped.
    const auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const std::string ref = line.substr(0, sp);
    const auto colon = ref.find(':');
    if (colon == std::string::npos || colon + 1 >= ref.size() ||
        !std::all_of(ref.begin() + colon + 1, ref.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.references.push_back(ref);
    out.verses.push_back(line.substr(sp + 1));
  }
  if (out.verses.size() < 30000)
    throw std::runtime_error(path + ": decoded only " + std::to_string(out.verses.size()) + " verses");
  return out;
}

// ---- characters ---------------------------------------------------------------------

CharCorpus::CharCorpus(const std::string& text) {
  std::array<bool, 256> seen{};
  for (unsigned char c : text) seen[c] = true;
  std::fill(std::begin(index_), std::end(index_), std::int16_t(-1));
  for (int c = 0; c < 256; ++c)
    if (seen[c]) {
      index_[c] = static_cast<std::int16_t>(chars_.size());
      chars_.push_back(static_cast<char>(c));
    }
  tokens_ = encode(text);
}

torch::Tensor CharCorpus::encode(const std::string& s) const {
  auto t = at::empty({static_cast<std::int64_t>(s.size())}, at::kLong);
  auto* d = t.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < s.size(); ++i) {
    const int id = index_[static_cast<unsigned char>(s[i])];
    if (id < 0) throw std::invalid_argument("CharCorpus::encode: character outside the vocabulary");
    d[i] = id;
  }
  return t;
}

std::string CharCorpus::decode(const torch::Tensor& ids) const {
  auto t = ids.to(at::kLong).contiguous();
  std::string out;
  const auto* d = t.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (d[i] < 0 || d[i] >= vocab_size()) throw std::invalid_argument("CharCorpus::decode: id outside the vocabulary");
    out.push_back(chars_[static_cast<std::size_t>(d[i])]);
  }
  return out;
}

TokenSplits split_tokens(const torch::Tensor& tokens, std::int64_t chunk) {
  const std::int64_t n = tokens.numel();
  std::vector<torch::Tensor> tr, va, te;
  for (std::int64_t i = 0, k = 0; i < n; i += chunk, ++k) {
    auto piece = tokens.slice(0, i, std::min(n, i + chunk));
    (k % 20 == 18 ? va : k % 20 == 19 ? te : tr).push_back(piece);
  }
  TokenSplits s;
  s.train = at::cat(tr);
  s.val = va.empty() ? tokens.slice(0, 0, 0) : at::cat(va);
  s.test = te.empty() ? tokens.slice(0, 0, 0) : at::cat(te);
  return s;
}

}  // namespace descent::bench
