// descent/bench/data.h: the benchmark's data sets, read from Debian packages.
//
// Nothing is downloaded. Two readers, usable by examples too (link
// descent::bench_models):
//
//   Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), Debian package
//   dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz
//   (override the folder with $DESCENT_FASHION_MNIST_DIR).
//
//       auto train = descent::bench::load_fashion_mnist(descent::bench::Split::train);
//       torch::Tensor x = descent::bench::normalize_images(train.images);  // [N,1,28,28] float
//
//   The King James Bible, Debian package bible-kjv-text: /usr/lib/bible.data
//   (override with $DESCENT_KJV_PATH), an "EC02" container around one
//   Unix-compress (LZW) stream of lines "Ge1:1 In the beginning ...".
//
//       auto kjv = descent::bench::load_kjv();          // 31102 verses, references stripped
//       descent::bench::CharCorpus corpus(kjv.text());  // vocabulary + token ids
//
// A missing file throws MissingData, whose message names the Debian package
// to install.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace descent::bench {

// A data file is absent; what() says which Debian package provides it.
class MissingData : public std::runtime_error {
 public:
  MissingData(const std::string& what, std::string package)
      : std::runtime_error(what), package_(std::move(package)) {}
  const std::string& package() const { return package_; }

 private:
  std::string package_;
};

// ---- Fashion-MNIST ----------------------------------------------------------------

enum class Split { train, test };

struct ImageSet {
  torch::Tensor images;  // uint8 [N, 1, 28, 28]
  torch::Tensor labels;  // int64 [N], classes 0..9
};

// The folder holding the four idx files ($DESCENT_FASHION_MNIST_DIR or the
// Debian package's folder).
std::string fashion_mnist_dir();

// Reads the first `limit` examples (all with limit < 0) of a split. Throws
// MissingData if the files are absent, std::runtime_error if they are corrupt.
ImageSet load_fashion_mnist(Split split, std::int64_t limit = -1, const std::string& dir = "");

// uint8 images -> float32, standardised with the training set's mean and
// standard deviation (0.2860, 0.3530).
torch::Tensor normalize_images(const torch::Tensor& images);

// The ten class names, in label order.
const std::vector<std::string>& fashion_mnist_classes();

// ---- King James Bible -----------------------------------------------------------

struct KjvText {
  std::vector<std::string> references;  // "Ge1:1", ...
  std::vector<std::string> verses;      // the verse text without its reference
  // The verses joined by '\n'.
  std::string text() const;
};

// $DESCENT_KJV_PATH or /usr/lib/bible.data.
std::string kjv_path();

// Reads and decompresses the Bible. Throws MissingData if the file is absent,
// std::runtime_error if it is not the expected format.
KjvText load_kjv(const std::string& path = "");

// Decodes one Unix compress(1) stream (magic 1f 9d; LZW with 9..16-bit codes,
// block mode with CLEAR codes). Exposed for tests.
std::string decompress_lzw(const unsigned char* data, std::size_t size);

// A character vocabulary over a text: the distinct bytes in sorted order.
class CharCorpus {
 public:
  explicit CharCorpus(const std::string& text);
  std::int64_t vocab_size() const { return static_cast<std::int64_t>(chars_.size()); }
  const std::string& chars() const { return chars_; }
  // Token ids (int64 [n]); characters outside the vocabulary throw.
  torch::Tensor encode(const std::string& s) const;
  std::string decode(const torch::Tensor& ids) const;
  // The whole text used to build the vocabulary, encoded.
  const torch::Tensor& tokens() const { return tokens_; }

 private:
  std::string chars_;
  std::int16_t index_[256];
  torch::Tensor tokens_;
};

// A deterministic train / validation / test split of a token stream: the
// stream is cut into chunks of `chunk` tokens; of every 20 chunks, chunk 18
// goes to validation, chunk 19 to test, the rest to training (so every split
// samples the whole book, not only its end).
struct TokenSplits {
  torch::Tensor train, val, test;  // int64 [n] each
};
TokenSplits split_tokens(const torch::Tensor& tokens, std::int64_t chunk = 2048);

}  // namespace descent::bench
