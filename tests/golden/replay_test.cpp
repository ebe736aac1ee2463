// The replay contract itself: parsing, dtype, param groups, per-step lr, the
// output format (exact round trip), and clear errors for bad cases.
#include <descent/golden.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

namespace {

using nlohmann::json;

json small_case() {
  return json{{"format", "descent-golden/1"},
              {"optimizer", "sgd"},
              {"options", {{"lr", 0.1}, {"momentum", 0.9}}},
              {"dtype", "float64"},
              {"params", {{{"name", "w"}, {"shape", {2}}, {"init", {1.0, -2.0}}},
                          {{"name", "s"}, {"shape", json::array()}, {"init", {0.5}}}}},
              {"steps", {{{"grads", {{0.1, 0.2}, {1.0}}}, {"expected", {{0.99, -2.02}, {0.4}}}},
                         {{"grads", {{0.1, 0.2}, nullptr}}, {"expected", {{0.971, -2.058}, {0.4}}}}}},
              {"tolerance", {{"rtol", 1e-12}, {"atol", 1e-14}}}};
}

TEST(Replay, SmallSgdCaseMatchesHandComputation) {
  const auto c = descent::golden::parse_case(small_case().dump());
  const auto t = descent::golden::replay(c);
  ASSERT_EQ(t.steps.size(), 2u);
  const auto r = descent::golden::compare(c, t);
  EXPECT_TRUE(r.passed) << r.detail;
  // The 0-d parameter has no gradient at step 2: it must not move.
  EXPECT_EQ(t.steps[1][1][0], 0.4);
}

TEST(Replay, CompareDetectsAWrongStep) {
  auto j = small_case();
  j["steps"][1]["expected"][0][1] = -2.0581;
  const auto c = descent::golden::parse_case(j.dump());
  const auto r = descent::golden::compare(c, descent::golden::replay(c));
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.first_failing_step, 2);
  EXPECT_NE(r.detail.find("w[1]"), std::string::npos) << r.detail;
}

TEST(Replay, OutputRoundTripsExactly) {
  auto j = small_case();
  j["dtype"] = "float32";
  j["options"]["lr"] = 0.1234567;
  const auto c = descent::golden::parse_case(j.dump());
  const auto t = descent::golden::replay(c);
  const json out = json::parse(descent::golden::to_json(t));
  EXPECT_EQ(out["format"], "descent-replay/1");
  EXPECT_EQ(out["optimizer"], "sgd");
  ASSERT_EQ(out["steps"].size(), t.steps.size());
  for (std::size_t s = 0; s < t.steps.size(); ++s)
    for (std::size_t p = 0; p < t.steps[s].size(); ++p)
      for (std::size_t k = 0; k < t.steps[s][p].size(); ++k) {
        const double back = out["steps"][s]["params"][p][k].get<double>();
        EXPECT_EQ(std::memcmp(&back, &t.steps[s][p][k], sizeof back), 0);
        // float32 runs produce float32 values.
        EXPECT_EQ(static_cast<double>(static_cast<float>(back)), back);
      }
}

TEST(Replay, ParamGroupsAndPerStepLr) {
  auto j = small_case();
  j["param_groups"] = {{{"params", {"w"}}, {"momentum", 0.0}}, {{"params", {"s"}}, {"lr", 0.2}}};
  j["steps"][0]["lr"] = 1.0;  // overrides every group's lr for this step
  j["steps"][1]["lr"] = 0.5;
  const auto c = descent::golden::parse_case(j.dump());
  const auto t = descent::golden::replay(c);
  // w: plain SGD, lr 1 then 0.5.
  EXPECT_DOUBLE_EQ(t.steps[0][0][0], 1.0 - 1.0 * 0.1);
  EXPECT_DOUBLE_EQ(t.steps[1][0][0], 0.9 - 0.5 * 0.1);
  // s: momentum 0.9, lr 1 at step 1.
  EXPECT_DOUBLE_EQ(t.steps[0][1][0], 0.5 - 1.0);
}

TEST(Replay, ClearErrors) {
  auto unknown = small_case();
  unknown["optimizer"] = "not_an_optimizer";
  EXPECT_THROW(descent::golden::replay(descent::golden::parse_case(unknown.dump())), descent::UnknownOptimizer);
  auto bad_option = small_case();
  bad_option["options"]["momentun"] = 0.9;
  EXPECT_THROW(descent::golden::replay(descent::golden::parse_case(bad_option.dump())), descent::OptionError);
  auto bad_shape = small_case();
  bad_shape["steps"][0]["grads"][0] = {1.0, 2.0, 3.0};
  EXPECT_THROW(descent::golden::parse_case(bad_shape.dump()), std::runtime_error);
  auto hessian = small_case();
  hessian["steps"][0]["hessian"] = {{1.0, 1.0}, {1.0}};
  EXPECT_THROW(descent::golden::replay(descent::golden::parse_case(hessian.dump())), std::runtime_error);
  EXPECT_THROW(descent::golden::parse_case("{not json"), std::runtime_error);
}

}  // namespace
