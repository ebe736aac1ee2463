// The family table covers every registered optimizer: registering an optimizer
// without classifying it in tools/bench/src/families.cpp fails here.
#include <descent/bench/families.h>
#include <descent/registry.h>

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace db = descent::bench;

TEST(Families, EveryRegisteredOptimizerHasAFamily) {
  const auto missing = db::unclassified_optimizers();
  std::string names;
  for (const auto& n : missing) names += " " + n;
  EXPECT_TRUE(missing.empty()) << "registered optimizers without a family in tools/bench/src/families.cpp:" << names
                               << " (add each to the family it belongs to, so that the benchmark's quick suite "
                                  "represents it)";
  for (const auto& n : descent::Registry::instance().names()) EXPECT_FALSE(db::family_of(n).empty()) << n;
}

TEST(Families, EachNameInOneFamily) {
  std::map<std::string, std::string> seen;
  for (const auto& f : db::families())
    for (const auto& m : f.members) {
      auto [it, fresh] = seen.emplace(m, f.id);
      EXPECT_TRUE(fresh) << m << " is in families " << it->second << " and " << f.id;
    }
}

TEST(Families, QuickSuiteRepresentsEveryFamilyWithARegisteredMember) {
  const auto& reg = descent::Registry::instance();
  const auto reps = db::family_representatives();
  for (const auto& f : db::families()) {
    bool any = false;
    for (const auto& m : f.members) any = any || reg.find(m) != nullptr;
    int in_reps = 0;
    for (const auto& r : reps) in_reps += db::family_of(r) == f.id;
    EXPECT_EQ(in_reps, any ? 1 : 0) << f.id;
  }
  for (const auto& r : reps) EXPECT_NE(reg.find(r), nullptr) << r;
}

TEST(Families, EveryOptimizerHasAUsableBaseLr) {
  for (const auto& n : descent::Registry::instance().names()) {
    const double lr = db::base_lr(n);
    EXPECT_TRUE(std::isfinite(lr) && lr > 0) << n << ": " << lr;
  }
  EXPECT_EQ(db::base_lr("adam"), 1e-3);  // the default of its options
  EXPECT_EQ(db::base_lr("sgd"), 0.05);   // sgd has no default lr: the table's
}
