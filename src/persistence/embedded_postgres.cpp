#include "persistence/embedded_postgres.hpp"

#include "persistence/pg_connection.hpp"

#include <libpq-fe.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace txrelay {

namespace fs = std::filesystem;

namespace {

// The server listens on no TCP port; the number only names the socket file
// (<data_dir>/run/.s.PGSQL.54320), so it cannot clash with another server.
constexpr int socket_port = 54320;
constexpr const char* runuser_path = "/usr/sbin/runuser";
constexpr const char* useradd_path = "/usr/sbin/useradd";
constexpr const char* server_user = "postgres";

/// Runs a program without a shell (looked up in PATH when argv[0] has no '/'):
/// stdin from /dev/null, stdout and stderr to `out_fd`, working directory "/"
/// (always reachable, also for the postgres user when our own is /root).
/// Returns its exit code, or -1 when it could not run or was killed.
int run_program(const std::vector<std::string>& argv, int out_fd) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// run_program with the output appended to `log_path`.
int run_logged(const std::vector<std::string>& argv, const std::string& log_path) {
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  int rc = run_program(argv, fd);
  close(fd);
  return rc;
}

/// The first line a program prints, or "" when it fails (for `pg_config --bindir`).
std::string program_output(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return {};
  // The answer is one short line: it fits the pipe buffer, so reading after the exit cannot deadlock.
  int rc = run_program(argv, fds[1]);
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  if (rc != 0)
    return {};
  return out.substr(0, out.find('\n'));
}

bool has_server_binaries(const fs::path& dir) {
  for (const char* name : {"postgres", "initdb", "pg_ctl"}) {
    if (access((dir / name).c_str(), X_OK) != 0)
      return false;
  }
  return true;
}

/// Debian's /usr/lib/postgresql/<version>/bin: 15 (what txrelay is tested
/// with), else the newest; else wherever pg_config says (other layouts).
std::string find_bindir() {
  const fs::path debian_root{"/usr/lib/postgresql"};
  if (has_server_binaries(debian_root / "15" / "bin"))
    return debian_root / "15" / "bin";
  std::error_code ec;
  int newest = -1;
  fs::path newest_dir;
  for (fs::directory_iterator it{debian_root, ec}; !ec && it != fs::directory_iterator{}; it.increment(ec)) {
    int version = std::atoi(it->path().filename().c_str());
    if (version > newest && has_server_binaries(it->path() / "bin")) {
      newest = version;
      newest_dir = it->path() / "bin";
    }
  }
  if (!newest_dir.empty())
    return newest_dir;
  auto from_pg_config = program_output({"pg_config", "--bindir"});
  if (!from_pg_config.empty() && has_server_binaries(from_pg_config))
    return from_pg_config;
  return {};
}

struct user_ids {
  uid_t uid;
  gid_t gid;
};

std::optional<user_ids> lookup_user(const char* name) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr)
    return std::nullopt;
  return user_ids{pw.pw_uid, pw.pw_gid};
}

/// The unprivileged user the server runs as when we are root; created if missing.
result<user_ids, std::string> server_user_ids() {
  if (auto ids = lookup_user(server_user))
    return *ids;
  int rc = run_logged({useradd_path, "--system", "--no-create-home", "--home-dir", "/var/lib/postgresql", "--shell",
                       "/usr/sbin/nologin", server_user},
                      "/dev/null");
  if (auto ids = lookup_user(server_user))
    return *ids;
  return unexpected{"running as root, the server must run as user \"postgres\", which does not exist and " +
                    std::string{useradd_path} + " could not create (exit " + std::to_string(rc) + ")"};
}

/// As root, the server runs as `postgres`, which must reach the data
/// directory: every directory above it gets search permission for others
/// (o+x: enter, never list or read), and the data directory itself 0711.
std::string grant_search_path(const fs::path& dir, const embedded_postgres::log_fn& log) {
  if (chmod(dir.c_str(), 0711) != 0)
    return "cannot chmod 0711 " + dir.string() + ": " + std::strerror(errno);
  for (fs::path p = dir.parent_path();; p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) != 0)
      return "cannot stat " + p.string() + ": " + std::strerror(errno);
    if ((st.st_mode & S_IXOTH) == 0) {
      if (chmod(p.c_str(), (st.st_mode & 07777) | S_IXOTH) != 0)
        return "user postgres cannot reach " + dir.string() + " because " + p.string() +
               " is not searchable by others, and chmod o+x failed: " + std::strerror(errno);
      if (log)
        log("embedded PostgreSQL: granted search permission (o+x) on " + p.string() +
            " so user postgres can reach " + dir.string());
    }
    if (p == p.root_path())
      break;
  }
  return {};
}

std::string hand_to(const fs::path& p, const user_ids& user) {
  if (chown(p.c_str(), user.uid, user.gid) != 0)
    return "cannot hand " + p.string() + " to user postgres: " + std::strerror(errno);
  return {};
}

/// A libpq conninfo value, quoted (the data directory may contain spaces).
std::string conninfo_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "'";
}

std::string conninfo(const std::string& socket_dir, const std::string& dbname) {
  return "host=" + conninfo_value(socket_dir) + " port=" + std::to_string(socket_port) + " dbname=" + dbname +
         " user=txrelay";
}

/// pg_ctl waited for a server it started; a reused one may still be starting up.
bool wait_until_accepting(const std::string& info, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (PQping(info.c_str()) == PQPING_OK)
      return true;
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
}

std::vector<std::string> as_server_user(bool as_postgres_user, std::vector<std::string> argv) {
  if (!as_postgres_user)
    return argv;
  std::vector<std::string> full{runuser_path, "-u", server_user, "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

} // namespace

embedded_postgres::embedded_postgres(std::string data_dir, std::string bindir, bool as_postgres_user, log_fn log)
  : data_dir_(std::move(data_dir)), bindir_(std::move(bindir)), as_postgres_user_(as_postgres_user),
    log_(std::move(log)) {}

embedded_postgres::~embedded_postgres() { stop(); }

std::string embedded_postgres::connection_url() const { return conninfo(data_dir_ + "/run", "txrelay"); }

result<std::unique_ptr<embedded_postgres>, std::string> embedded_postgres::start(const std::string& data_dir,
                                                                                 log_fn log) {
  auto bindir = find_bindir();
  if (bindir.empty())
    return unexpected{std::string{"no PostgreSQL server binaries (postgres, initdb, pg_ctl) in "
                                  "/usr/lib/postgresql/*/bin or pg_config --bindir; install postgresql-15, "
                                  "or configure a database URL"}};

  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec)
    return unexpected{"cannot create " + data_dir + ": " + ec.message()};
  const fs::path dir = fs::canonical(data_dir, ec);
  if (ec)
    return unexpected{"cannot resolve " + data_dir + ": " + ec.message()};
  // pg_ctl hands the data directory and the server options to /bin/sh inside quotes.
  if (dir.string().find_first_of("'\"$`\\\n") != std::string::npos)
    return unexpected{"the data directory " + dir.string() + " must not contain quotes, $, ` or \\"};
  const auto pgdata = (dir / "pg").string();
  const auto staging = (dir / "pg.initdb").string();
  const auto rundir = (dir / "run").string();
  const auto logfile = (dir / "postgres.log").string();
  const auto socket_file = rundir + "/.s.PGSQL." + std::to_string(socket_port);
  if (socket_file.size() >= sizeof(sockaddr_un{}.sun_path))
    return unexpected{"the data directory " + dir.string() + " is too long: its socket " + socket_file +
                      " exceeds the " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                      " characters a unix socket path may have"};
  fs::create_directories(rundir, ec);
  if (ec)
    return unexpected{"cannot create " + rundir + ": " + ec.message()};

  const bool as_postgres = geteuid() == 0;
  std::optional<user_ids> server_ids;
  if (as_postgres) {
    auto ids = server_user_ids();
    if (!ids)
      return unexpected{ids.error()};
    server_ids = *ids;
    if (auto err = grant_search_path(dir, log); !err.empty())
      return unexpected{err};
    int fd = open(logfile.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
      close(fd);
    for (const auto& p : {rundir, logfile}) {
      if (auto err = hand_to(p, *server_ids); !err.empty())
        return unexpected{err};
    }
  }
  auto command = [&](std::vector<std::string> argv) { return as_server_user(as_postgres, std::move(argv)); };

  if (!fs::exists(fs::path{pgdata} / "PG_VERSION")) {
    // initdb into a staging directory renamed when complete: an initdb that
    // was interrupted leaves no half-made `pg` that a later start would trust.
    if (log)
      log("embedded PostgreSQL: creating the cluster in " + pgdata + " (log " + logfile + ")");
    fs::remove_all(staging, ec);
    fs::create_directory(staging, ec);
    if (ec)
      return unexpected{"cannot create " + staging + ": " + ec.message()};
    if (server_ids) {
      if (auto err = hand_to(staging, *server_ids); !err.empty())
        return unexpected{err};
    }
    chmod(staging.c_str(), 0700);
    int rc = run_logged(command({bindir + "/initdb", "-D", staging, "-U", "txrelay", "-A", "trust", "-E", "UTF8",
                                 "--no-locale"}),
                        logfile);
    if (rc != 0)
      return unexpected{bindir + "/initdb failed (exit " + std::to_string(rc) + "); see " + logfile};
    fs::remove_all(pgdata, ec);
    fs::rename(staging, pgdata, ec);
    if (ec)
      return unexpected{"cannot rename " + staging + " to " + pgdata + ": " + ec.message()};
  }

  auto self = std::unique_ptr<embedded_postgres>{new embedded_postgres(dir.string(), bindir, as_postgres, log)};
  // Exit 0: a server runs in this directory, left by a txrelay that was killed.
  // pg_ctl start would refuse it; a stale postmaster.pid without a process is
  // not "running", and pg_ctl start replaces it.
  if (run_logged(command({bindir + "/pg_ctl", "-D", pgdata, "status"}), "/dev/null") == 0) {
    if (log)
      log("embedded PostgreSQL: reusing the server already running in " + pgdata);
  } else {
    if (log)
      log("embedded PostgreSQL: starting " + bindir + "/postgres in " + pgdata + " (log " + logfile + ")");
    auto options = "-k '" + rundir + "' -p " + std::to_string(socket_port) + " -c listen_addresses=''";
    int rc =
      run_logged(command({bindir + "/pg_ctl", "-D", pgdata, "-l", logfile, "-w", "-t", "60", "-o", options, "start"}),
                 logfile);
    if (rc != 0)
      return unexpected{bindir + "/pg_ctl start failed (exit " + std::to_string(rc) + "); see " + logfile};
  }
  self->running_ = true; // from here on, an error stops the server again (~embedded_postgres)

  const auto admin = conninfo(rundir, "postgres");
  if (!wait_until_accepting(admin, std::chrono::seconds{60}))
    return unexpected{"the server in " + pgdata + " does not accept connections on " + socket_file +
                      " after 60 s; see " + logfile};
  auto conn = pg::connection::open(admin);
  if (!conn)
    return unexpected{conn.error().message + "; see " + logfile};
  auto exists = conn->exec("SELECT 1 FROM pg_database WHERE datname = 'txrelay'");
  if (!exists)
    return unexpected{"cannot look for the txrelay database: " + exists.error().message};
  if (exists->rows() == 0) {
    auto created = conn->exec("CREATE DATABASE txrelay");
    if (!created && created.error().sqlstate != "42P04") // 42P04: created meanwhile, fine
      return unexpected{"cannot create the txrelay database: " + created.error().message};
  }
  if (log)
    log("embedded PostgreSQL: ready on " + socket_file);
  return self;
}

void embedded_postgres::stop() {
  if (!running_)
    return;
  running_ = false;
  const auto logfile = data_dir_ + "/postgres.log";
  int rc = run_logged(
    as_server_user(as_postgres_user_, {bindir_ + "/pg_ctl", "-D", data_dir_ + "/pg", "-m", "fast", "-w", "stop"}),
    logfile);
  if (!log_)
    return;
  if (rc == 0)
    log_("embedded PostgreSQL: stopped");
  else
    log_("embedded PostgreSQL: pg_ctl stop failed (exit " + std::to_string(rc) + "); see " + logfile);
}

} // namespace txrelay
