// HttpClient::warm_up against a small HTTP/1.1 server on loopback that counts connections
// and holds its answers to the warm-up requests until the test lets them go.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "regcache/store/registry/http_client.hpp"

using namespace regcache;

namespace {

class HeldServer {
 public:
  explicit HeldServer(int held) : held_(held) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~HeldServer() {
    release();
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v2/"; }
  // Waits until n requests arrived.
  void wait_requests(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return requests_ >= n; });
  }
  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }

 private:
  void accept_loop() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::lock_guard lock(mu_);
      ++connections_;
      conns_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(c, chunk, sizeof chunk);
        if (n <= 0) {
          ::close(c);
          return;
        }
        buf.append(chunk, static_cast<size_t>(n));
      }
      buf.erase(0, end + 4);
      {
        std::unique_lock lock(mu_);
        int nth = ++requests_;
        cv_.notify_all();
        if (nth <= held_) cv_.wait(lock, [&] { return open_; });
      }
      const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
      if (::write(c, reply.data(), reply.size()) < 0) break;
    }
    ::close(c);
  }
  int held_;
  int fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> conns_;
  std::mutex mu_;
  std::condition_variable cv_;
  int requests_ = 0, connections_ = 0;
  bool open_ = false;
};

}  // namespace

TEST(HttpClientWarmUp, ARequestWaitsForAWarmConnectionInsteadOfOpeningAnother) {
  HeldServer server(2);  // the two warm-up requests are answered only when released
  {
    HttpClient client(TlsOptions{});
    HttpRequest req{"GET", server.url()};
    client.warm_up(req, 2);
    server.wait_requests(2);  // both warm-ups are connected and waiting for their answer
    std::thread later([&] {
      // Gives a client that would open a third connection the time to do so; a correct
      // one waits for the release however long this takes.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      server.release();
    });
    auto r = client.perform(req);
    later.join();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
    auto again = client.perform(req);
    ASSERT_TRUE(again.ok());
  }
  EXPECT_EQ(server.connections(), 2) << "the requests reused the warm-up connections";
}

TEST(HttpClientWarmUp, WithoutWarmUpARequestOpensItsOwnConnection) {
  HeldServer server(0);
  {
    HttpClient client(TlsOptions{});
    HttpRequest req{"GET", server.url()};
    ASSERT_TRUE(client.perform(req).ok());
    ASSERT_TRUE(client.perform(req).ok());
  }
  EXPECT_EQ(server.connections(), 1) << "a kept-alive connection is reused";
}
