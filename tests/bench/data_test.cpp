// The data readers on the real Debian files: Fashion-MNIST and the King James Bible.
#include <descent/bench/data.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <fstream>
#include <iterator>

namespace db = descent::bench;

TEST(FashionMnist, TestSplitHasTenBalancedClasses) {
  const auto test = db::load_fashion_mnist(db::Split::test);
  ASSERT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  ASSERT_EQ(test.images.scalar_type(), torch::kByte);
  ASSERT_EQ(test.labels.numel(), 10000);
  // Fashion-MNIST's test split has exactly 1000 images per class.
  const auto counts = torch::bincount(test.labels);
  ASSERT_EQ(counts.numel(), 10);
  EXPECT_TRUE(counts.eq(1000).all().item<bool>()) << counts;
  EXPECT_EQ(db::fashion_mnist_classes().size(), 10u);
}

TEST(FashionMnist, TrainSplitAndLimit) {
  const auto some = db::load_fashion_mnist(db::Split::train, 500);
  ASSERT_EQ(some.images.size(0), 500);
  EXPECT_GE(some.labels.min().item<int64_t>(), 0);
  EXPECT_LE(some.labels.max().item<int64_t>(), 9);
  // Images are not blank, and standardisation centres them.
  EXPECT_GT(some.images.to(torch::kFloat).mean().item<double>(), 40.0);
  const auto x = db::normalize_images(some.images);
  EXPECT_EQ(x.scalar_type(), torch::kFloat);
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 0.15);
  EXPECT_NEAR(x.std().item<double>(), 1.0, 0.15);
  const auto all = db::load_fashion_mnist(db::Split::train);
  EXPECT_EQ(all.images.size(0), 60000);
  EXPECT_TRUE(all.images.slice(0, 0, 500).equal(some.images));
}

TEST(FashionMnist, MissingFilesNameTheDebianPackage) {
  try {
    db::load_fashion_mnist(db::Split::train, 10, "/nonexistent/fashion");
    FAIL() << "no exception";
  } catch (const db::MissingData& e) {
    EXPECT_EQ(e.package(), "dataset-fashion-mnist");
    EXPECT_NE(std::string(e.what()).find("install the Debian package dataset-fashion-mnist"), std::string::npos)
        << e.what();
  }
}

TEST(Kjv, AllVersesWithTheirReferences) {
  const auto kjv = db::load_kjv();
  ASSERT_EQ(kjv.verses.size(), 31102u);  // the KJV's verse count
  ASSERT_EQ(kjv.references.size(), kjv.verses.size());
  EXPECT_EQ(kjv.references.front(), "Ge1:1");
  EXPECT_EQ(kjv.verses.front(), "In the beginning God created the heaven and the earth.");
  EXPECT_EQ(kjv.references.back(), "Rev22:21");
  EXPECT_EQ(kjv.verses.back(), "The grace of our Lord Jesus Christ be with you all. Amen.");
  // The Old Testament has 23145 verses; the New starts with Matthew.
  EXPECT_EQ(kjv.references[23145], "Mat1:1");
  EXPECT_EQ(kjv.verses[23145].rfind("The book of the generation of Jesus Christ", 0), 0u);
}

// The LZW decoder agrees with gzip's (gzip -d reads compress(1) streams) on
// the whole Bible, including its CLEAR codes.
TEST(Kjv, LzwDecoderMatchesGzip) {
  std::ifstream f(db::kjv_path(), std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto start = raw.find("\x1f\x9d");
  ASSERT_NE(start, std::string::npos);
  const std::string mine =
      db::decompress_lzw(reinterpret_cast<const unsigned char*>(raw.data()) + start, raw.size() - start);
  char tmpl[] = "/tmp/descent_kjv_XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, raw.data() + start, raw.size() - start), static_cast<ssize_t>(raw.size() - start));
  close(fd);
  FILE* p = popen((std::string("gzip -dc < ") + tmpl + " 2>/dev/null").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string theirs;
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) theirs.append(buf, n);
  pclose(p);
  std::remove(tmpl);
  ASSERT_GT(theirs.size(), 4000000u);
  EXPECT_EQ(mine.size(), theirs.size());
  EXPECT_TRUE(mine == theirs);
}

TEST(Kjv, CorruptStreamsAreRefused) {
  const unsigned char not_z[] = {0x1f, 0x8b, 0x08, 0, 0};
  EXPECT_THROW(db::decompress_lzw(not_z, sizeof not_z), std::runtime_error);
  // A first code that is not a literal (9-bit code 300).
  const unsigned char bad[] = {0x1f, 0x9d, 0x90, 0x2c, 0x01, 0, 0};
  EXPECT_THROW(db::decompress_lzw(bad, sizeof bad), std::runtime_error);
}

TEST(Kjv, MissingFileNamesTheDebianPackage) {
  try {
    db::load_kjv("/nonexistent/bible.data");
    FAIL() << "no exception";
  } catch (const db::MissingData& e) {
    EXPECT_EQ(e.package(), "bible-kjv-text");
    EXPECT_NE(std::string(e.what()).find("bible-kjv-text"), std::string::npos);
  }
}

TEST(CharCorpus, EncodesDecodesAndSplits) {
  const db::CharCorpus c("hello world\nhello");
  EXPECT_EQ(c.chars(), std::string("\n dehlorw"));
  EXPECT_EQ(c.decode(c.encode("low hello")), "low hello");
  EXPECT_THROW(c.encode("xyz"), std::invalid_argument);
  const auto tokens = torch::arange(100000, torch::kLong);
  const auto s = db::split_tokens(tokens, 1000);
  EXPECT_EQ(s.train.numel() + s.val.numel() + s.test.numel(), 100000);
  EXPECT_EQ(s.val.numel(), 5000);  // chunks 18, 38, 58, 78, 98
  EXPECT_EQ(s.test.numel(), 5000);
  EXPECT_EQ(s.val[0].item<int64_t>(), 18000);
  EXPECT_EQ(s.test[0].item<int64_t>(), 19000);
}
