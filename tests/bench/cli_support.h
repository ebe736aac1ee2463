// Runs the descent CLI as a child process (tests of `descent bench`).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace bench_test {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

inline std::string temp_dir() {
  char tmpl[] = "/tmp/descent_bench_test_XXXXXX";
  const char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

struct Result {
  int exit_code = -1;  // -1: killed by a signal
  std::string err;
};

// Runs `descent args...` with extra environment variables ("NAME=value");
// `while_running` (if given) is called with the pid and the stderr path.
inline Result run_cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                      const std::function<void(pid_t, const std::string&)>& while_running = {}) {
  const std::string dir = temp_dir();
  const std::string err_path = dir + "/stderr.txt";
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& e : env) putenv(strdup(e.c_str()));
    FILE* ef = std::freopen(err_path.c_str(), "w", stderr);
    FILE* of = std::freopen("/dev/null", "w", stdout);
    (void)ef;
    (void)of;
    std::vector<std::string> all = {DESCENT_CLI};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(DESCENT_CLI, argv.data());
    _exit(127);
  }
  if (while_running) while_running(pid, err_path);
  int status = 0;
  waitpid(pid, &status, 0);
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_text(err_path);
  return r;
}

}  // namespace bench_test
