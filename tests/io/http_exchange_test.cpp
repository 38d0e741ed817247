#include "roo/io/http_exchange.hpp"

#include "http_reply_stream.hpp"
#include "io_test_support.hpp"

#include "roo/core/big_endian.hpp"

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using test::LogCapture;
using test::wait_until;
using Response = http::response<http::string_body>;

/// One request as the pipeline sees it: the frame `u64 BE id | body` split.
struct Frame {
  std::uint64_t id = 0;
  std::string body;
};

/// A blocking HTTP/1.1 client with one keep-alive connection to 127.0.0.1:port.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  Response post(const std::string& body, bool keep_alive = true) {
    http::request<http::string_body> request{http::verb::post, "/", 11};
    request.set(http::field::host, "test");
    request.keep_alive(keep_alive);
    request.body() = body;
    request.prepare_payload();
    return send(request);
  }
  Response send(http::request<http::string_body>& request) {
    http::write(socket_, request);
    return read_response();
  }
  void send_raw(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  Response read_response() {
    Response response;
    http::read(socket_, buffer_, response);
    return response;
  }
  /// True once the server closed the connection.
  bool closed_by_peer() {
    boost::system::error_code error;
    char byte = 0;
    socket_.read_some(asio::buffer(&byte, 1), error);
    return error == asio::error::eof || error == asio::error::connection_reset;
  }
  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  beast::flat_buffer buffer_;
};

/// The executor's stand-in: pops batches, records the frames, and (when `reply` says so) writes reply records to the
/// reply sink, one RecordBatch per mailbox batch.
using ReplyFn = std::function<std::optional<HttpReply>(const Frame&, std::string& scratch)>;

HttpReply upper_case_reply(const Frame& frame, std::string& scratch) {
  scratch = boost::algorithm::to_upper_copy(frame.body);
  return HttpReply{frame.id, 200, "text/plain", scratch};
}

/// A mailbox, a pool, an exchange with its two faces on a real io thread, and a responder thread. Members are
/// declared so that the responder and the io thread stop before what they use goes away.
struct ExchangeFixture {
  explicit ExchangeFixture(HttpExchangeConfig config, std::size_t mailbox_capacity = 64) : mailbox(mailbox_capacity) {
    LogCapture::instance().clear();
    exchange = std::make_unique<HttpExchange>(io.io(), std::move(config), mailbox, pool);
    sink = exchange->reply_sink("replies");
    source = exchange->source();
    source->start();
    sink->start();
  }
  ~ExchangeFixture() {
    stop_responder();
    source.reset();
    sink.reset();
    exchange.reset();
  }

  std::uint16_t port() const { return source->local_endpoint().port; }

  void respond(ReplyFn reply) {
    responder = std::thread([this, reply = std::move(reply)] {
      while (!quit) {
        auto batch = mailbox.pop_for(5ms);
        if (!batch) {
          continue;
        }
        RecordBatch out;
        for (std::size_t i = 0; i < batch->size(); ++i) {
          std::string_view bytes = batch->frame(i);
          Frame frame{core::load_u64_be(bytes.data()), std::string(bytes.substr(8))};
          {
            std::lock_guard lock(mutex);
            frames.push_back(frame);
          }
          std::string scratch;
          if (auto answer = reply(frame, scratch)) {
            std::string record = encode_http_reply(*answer);
            out.values.insert(out.values.end(), record.begin(), record.end());
          }
        }
        pool.release(std::move(*batch));
        if (!out.values.empty()) {
          sink->write(std::move(out));
        }
      }
    });
  }
  void stop_responder() {
    quit = true;
    if (responder.joinable()) {
      responder.join();
    }
  }
  std::vector<Frame> seen() {
    std::lock_guard lock(mutex);
    return frames;
  }
  void write_replies(const std::string& bytes) {
    RecordBatch batch;
    batch.values.assign(bytes.begin(), bytes.end());
    sink->write(std::move(batch));
  }

  core::BoundedMailbox<core::FrameBatch> mailbox;
  core::BatchPool pool;
  test::IoThread io;
  std::unique_ptr<HttpExchange> exchange;
  std::unique_ptr<Source> source;
  std::unique_ptr<Sink> sink;
  std::thread responder;
  std::atomic<bool> quit{false};
  std::mutex mutex;
  std::vector<Frame> frames;
};

HttpExchangeConfig config_with(bool ignore_response = false) {
  HttpExchangeConfig config;
  config.name = "web";
  config.listen = core::Endpoint{"127.0.0.1", 0};
  config.source_index = 3;
  config.ignore_response = ignore_response;
  config.max_body_bytes = 1000;
  config.read_timeout = 300ms;
  config.reply_timeout = 300ms;
  return config;
}

TEST(HttpReplyStream, ReadsWhatItEncodesAndNamesWhatIsMalformed) {
  std::string stream = encode_http_reply({7, 201, "application/json", "{}"}) + encode_http_reply({8, 200, "", ""});
  std::vector<std::string> seen;
  EXPECT_EQ(for_each_http_reply(stream,
                                [&](const HttpReply& reply) {
                                  seen.push_back(std::to_string(reply.request_id) + " " + std::to_string(reply.status) +
                                                 " " + std::string(reply.content_type) + " " + std::string(reply.body));
                                }),
            "");
  EXPECT_EQ(seen, (std::vector<std::string>{"7 201 application/json {}", "8 200  "}));
  seen.clear();
  std::string truncated = stream.substr(0, stream.size() - 1);
  auto no_op = [](const HttpReply&) {};
  EXPECT_EQ(for_each_http_reply(truncated, no_op),
            "record at byte 34: length 12 runs past the end of the batch (11 bytes follow it)");
  EXPECT_EQ(for_each_http_reply(std::string("\0\0\0\3abc", 7), no_op),
            "record at byte 0: length 3 is less than the 12 bytes of id, status and content-type length");
  EXPECT_EQ(for_each_http_reply(std::string("\0\0", 2), no_op),
            "record at byte 0: 2 bytes left, too few for its 4-byte length");
  std::string long_type = encode_http_reply({1, 200, "", "ab"});
  long_type[15] = 3;  // content-type length 3 in a record with 2 bytes after its fixed fields
  EXPECT_EQ(for_each_http_reply(long_type, no_op),
            "record at byte 0: content-type length 3 exceeds the record's 2 bytes after its fixed fields");
}

TEST(HttpExchange, PostBodyBecomesAFrameWithItsIdAndTheReplyAnswersIt) {
  ExchangeFixture fixture(config_with());
  fixture.respond([](const Frame& frame, std::string& scratch) -> std::optional<HttpReply> {
    scratch = "{\"echo\":\"" + boost::algorithm::to_upper_copy(frame.body) + "\"}";
    return HttpReply{frame.id, 201, "application/json", scratch};
  });
  HttpClient client(fixture.port());
  Response first = client.post("hello");
  EXPECT_EQ(first.result_int(), 201U);
  EXPECT_EQ(first[http::field::content_type], "application/json");
  EXPECT_EQ(first.body(), "{\"echo\":\"HELLO\"}");
  EXPECT_TRUE(first.keep_alive());
  Response second = client.post("again");
  EXPECT_EQ(second.body(), "{\"echo\":\"AGAIN\"}");
  auto frames = fixture.seen();
  ASSERT_EQ(frames.size(), 2U);
  EXPECT_EQ(frames[0].body, "hello");
  EXPECT_EQ(frames[1].body, "again");
  EXPECT_NE(frames[0].id, frames[1].id);
}

TEST(HttpExchange, ManyKeepAliveClientsEachGetTheirOwnAnswers) {
  ExchangeFixture fixture(config_with());
  fixture.respond([](const Frame& frame, std::string& scratch) -> std::optional<HttpReply> {
    return upper_case_reply(frame, scratch);
  });
  constexpr int clients = 32;
  constexpr int requests = 40;
  std::atomic<int> exact{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client(fixture.port());
      for (int r = 0; r < requests; ++r) {
        std::string body = "client " + std::to_string(c) + " request " + std::to_string(r);
        Response response = client.post(body);
        if (response.result_int() == 200 && response.body() == boost::algorithm::to_upper_copy(body) &&
            response[http::field::content_type] == "text/plain") {
          ++exact;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(exact.load(), clients * requests);
  std::set<std::uint64_t> ids;
  for (const auto& frame : fixture.seen()) {
    ids.insert(frame.id);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(clients * requests));
  EXPECT_EQ(fixture.exchange->unknown_replies(), 0U);
}

TEST(HttpExchange, RefusesWhatBreaksTheLimitsOrIsNotAPost) {
  ExchangeFixture fixture(config_with());
  fixture.respond(upper_case_reply);
  {
    HttpClient client(fixture.port());
    Response too_big = client.post(std::string(1001, 'x'));
    EXPECT_EQ(too_big.result_int(), 413U);
    EXPECT_EQ(too_big.body(), "request body over 1000 bytes\n");
    EXPECT_FALSE(too_big.keep_alive());
    EXPECT_TRUE(client.closed_by_peer());
  }
  {
    HttpClient client(fixture.port());  // a chunked body that grows past the limit
    client.send_raw("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + std::string(1000, 'y') +
                    "\r\n1\r\nz\r\n0\r\n\r\n");
    EXPECT_EQ(client.read_response().result_int(), 413U);
  }
  {
    HttpClient client(fixture.port());
    http::request<http::string_body> put{http::verb::put, "/", 11};
    put.body() = "x";
    put.prepare_payload();
    Response refused = client.send(put);
    EXPECT_EQ(refused.result_int(), 405U);
    EXPECT_EQ(refused[http::field::allow], "POST");
    http::request<http::string_body> health{http::verb::get, "/healthz", 11};
    Response healthy = client.send(health);  // the same connection: 405 kept it alive
    EXPECT_EQ(healthy.result_int(), 200U);
    EXPECT_EQ(healthy.body(), "ok");
    EXPECT_EQ(client.post("still here").body(), "STILL HERE");
  }
  {
    HttpClient client(fixture.port());
    client.send_raw("NOT HTTP AT ALL\r\n\r\n");
    Response bad = client.read_response();
    EXPECT_EQ(bad.result_int(), 400U);
    EXPECT_TRUE(client.closed_by_peer());
  }
  {
    HttpClient client(fixture.port());
    client.send_raw("POST / HTTP/1.1\r\nX-Big: " + std::string(9000, 'h') + "\r\n\r\n");
    EXPECT_EQ(client.read_response().result_int(), 431U);
  }
  EXPECT_EQ(fixture.seen().size(), 1U);  // only "still here" reached the pipeline
}

TEST(HttpExchange, ExpectContinueGets100BeforeTheBodyAndABodyThatComesLaterIsRead) {
  ExchangeFixture fixture(config_with());
  fixture.respond(upper_case_reply);
  HttpClient client(fixture.port());
  client.send_raw("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(client.read_response().result_int(), 100U);  // before any of the body was sent
  client.send_raw("hello");
  Response answer = client.read_response();
  EXPECT_EQ(answer.result_int(), 200U);
  EXPECT_EQ(answer.body(), "HELLO");
  client.send_raw("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n");  // no Expect: no 100
  std::this_thread::sleep_for(50ms);
  client.send_raw("later");
  Response later = client.read_response();
  EXPECT_EQ(later.result_int(), 200U);
  EXPECT_EQ(later.body(), "LATER");
  HttpClient big(fixture.port());
  big.send_raw("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(big.read_response().result_int(), 413U);  // over the limit: refused, not invited
  EXPECT_EQ(fixture.seen().size(), 2U);
}

TEST(HttpExchange, ARequestWithoutReplyGets504AndALateReplyIsCountedAsUnknown) {
  ExchangeFixture fixture(config_with());
  fixture.respond([](const Frame&, std::string&) -> std::optional<HttpReply> { return std::nullopt; });
  HttpClient client(fixture.port());
  Response late = client.post("nobody answers");
  EXPECT_EQ(late.result_int(), 504U);
  EXPECT_EQ(late.body(), "no reply within 300 ms\n");
  ASSERT_EQ(fixture.seen().size(), 1U);
  fixture.write_replies(encode_http_reply({fixture.seen()[0].id, 200, "text/plain", "too late"}));
  EXPECT_TRUE(wait_until([&] { return fixture.exchange->unknown_replies() == 1; }));
  EXPECT_EQ(client.post("again").result_int(), 504U);  // the connection stayed alive, and nothing answered it
}

TEST(HttpExchange, ARequestThatNeverCompletesIsClosedAfterTheReadTimeout) {
  ExchangeFixture fixture(config_with());
  fixture.respond(upper_case_reply);
  HttpClient client(fixture.port());
  client.send_raw("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);
  EXPECT_TRUE(fixture.seen().empty());
}

TEST(HttpExchange, IgnoreResponseAnswersOkAtOnceAndIgnoresReplies) {
  ExchangeFixture fixture(config_with(/*ignore_response=*/true));
  fixture.respond(upper_case_reply);  // its replies must change nothing
  HttpClient client(fixture.port());
  for (int i = 0; i < 3; ++i) {
    Response response = client.post("event " + std::to_string(i));
    EXPECT_EQ(response.result_int(), 200U);
    EXPECT_EQ(response[http::field::content_type], "text/plain");
    EXPECT_EQ(response.body(), "ok");
  }
  EXPECT_TRUE(wait_until([&] { return fixture.seen().size() == 3; }));
  EXPECT_EQ(fixture.seen()[2].body, "event 2");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fixture.exchange->unknown_replies(), 0U);
}

TEST(HttpExchange, AMalformedReplyStreamIsOneErrorLineAndTheRestOfTheBatchIsDropped) {
  ExchangeFixture fixture(config_with());
  fixture.respond([](const Frame&, std::string&) -> std::optional<HttpReply> { return std::nullopt; });
  HttpClient first(fixture.port());
  std::thread both([&] { first.post("one"); });
  ASSERT_TRUE(wait_until([&] { return fixture.seen().size() == 1; }));
  std::uint64_t id = fixture.seen()[0].id;
  fixture.write_replies(encode_http_reply({id, 202, "text/plain", "fine"}) + std::string("\0\0\0\2xx", 6));
  both.join();
  EXPECT_TRUE(LogCapture::instance().wait_for(
      "sink 'replies': malformed HTTP reply stream for source 'web' (record at byte 30: length 2 is less than the "
      "12 bytes of id, status and content-type length); the rest of the batch is dropped"));
  HttpClient second(fixture.port());  // now: an idle connection closes after the read timeout
  Response bad_status = [&] {
    std::thread reply([&] {
      wait_until([&] { return fixture.seen().size() == 2; });
      fixture.write_replies(encode_http_reply({fixture.seen()[1].id, 42, "text/plain", "?"}));
    });
    Response response = second.post("two");
    reply.join();
    return response;
  }();
  EXPECT_EQ(bad_status.result_int(), 500U);
}

TEST(HttpExchange, StopAnswersRepliesThatComeDuringTheDrainThen503) {
  ExchangeFixture fixture(config_with());
  fixture.respond([](const Frame&, std::string&) -> std::optional<HttpReply> { return std::nullopt; });
  HttpClient early(fixture.port());
  HttpClient late(fixture.port());
  Response early_answer;
  Response late_answer;
  std::thread early_thread([&] { early_answer = early.post("early"); });
  ASSERT_TRUE(wait_until([&] { return fixture.seen().size() == 1; }));
  std::thread late_thread([&] { late_answer = late.post("late"); });
  ASSERT_TRUE(wait_until([&] { return fixture.seen().size() == 2; }));
  std::atomic<bool> source_stopped{false};
  fixture.source->stop([&] { source_stopped = true; });
  ASSERT_TRUE(wait_until([&] { return source_stopped.load(); }));
  EXPECT_THROW(HttpClient{fixture.port()}, boost::system::system_error);  // no longer accepting
  fixture.write_replies(encode_http_reply({fixture.seen()[0].id, 200, "text/plain", "drained"}));
  early_thread.join();
  EXPECT_EQ(early_answer.body(), "drained");
  EXPECT_FALSE(early_answer.keep_alive());
  std::atomic<bool> sink_stopped{false};
  fixture.sink->stop([&] { sink_stopped = true; });
  late_thread.join();
  EXPECT_EQ(late_answer.result_int(), 503U);
  EXPECT_TRUE(wait_until([&] { return sink_stopped.load(); }));
}

TEST(HttpExchange, WhileTheMailboxIsFullNoNewRequestIsReadAndNothingIsLost) {
  ExchangeFixture fixture(config_with(/*ignore_response=*/true), /*mailbox_capacity=*/1);
  HttpClient client(fixture.port());
  EXPECT_EQ(client.post("a").body(), "ok");  // fills the mailbox
  EXPECT_EQ(client.post("b").body(), "ok");  // waits in the exchange's batch: the mailbox is full
  client.send_raw("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nc");
  client.socket().non_blocking(true);
  std::this_thread::sleep_for(100ms);
  char byte = 0;
  boost::system::error_code error;
  client.socket().read_some(asio::buffer(&byte, 1), error);
  EXPECT_EQ(error, asio::error::would_block);  // "c" was not read: no answer
  client.socket().non_blocking(false);
  fixture.respond([](const Frame&, std::string&) -> std::optional<HttpReply> { return std::nullopt; });
  EXPECT_EQ(client.read_response().body(), "ok");
  EXPECT_TRUE(wait_until([&] { return fixture.seen().size() == 3; }));
  EXPECT_EQ(fixture.seen()[2].body, "c");
}

TEST(HttpExchange, PipelinedAndChunkedRequestsAreEachOneFrameAnsweredInOrder) {
  ExchangeFixture fixture(config_with());
  fixture.respond(upper_case_reply);
  HttpClient client(fixture.port());
  client.send_raw(
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none"
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n4\r\n-and\r\n0\r\n\r\n"
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthree");
  EXPECT_EQ(client.read_response().body(), "ONE");
  EXPECT_EQ(client.read_response().body(), "TWO-AND");
  EXPECT_EQ(client.read_response().body(), "THREE");
  auto frames = fixture.seen();
  ASSERT_EQ(frames.size(), 3U);
  EXPECT_EQ(frames[1].body, "two-and");
}

TEST(HttpExchange, AnswersKeepTheRequestsVersionAndSayWhenTheConnectionCloses) {
  ExchangeFixture fixture(config_with());
  fixture.respond(upper_case_reply);
  HttpClient old_client(fixture.port());
  old_client.send_raw("POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi");
  Response kept = old_client.read_response();
  EXPECT_EQ(kept.version(), 10U);
  EXPECT_EQ(kept[http::field::connection], "keep-alive");
  EXPECT_EQ(kept.body(), "HI");
  old_client.send_raw("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nbye");
  Response last = old_client.read_response();
  EXPECT_EQ(last.body(), "BYE");
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(old_client.closed_by_peer());
  HttpClient client(fixture.port());
  Response closing = client.post("done", /*keep_alive=*/false);
  EXPECT_EQ(closing.version(), 11U);
  EXPECT_EQ(closing[http::field::connection], "close");
  EXPECT_EQ(closing[http::field::content_length], "4");
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(HttpExchange, AnAnswerTheSocketCannotTakeAtOnceIsWrittenWholeToASlowReader) {
  ExchangeFixture fixture(config_with());
  std::string big(8 * 1024 * 1024, 'b');  // far more than a socket's send buffer
  big.back() = 'e';
  fixture.respond([&](const Frame& frame, std::string&) -> std::optional<HttpReply> {
    return HttpReply{frame.id, 200, "application/octet-stream", big};
  });
  HttpClient client(fixture.port());
  client.send_raw("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
  std::this_thread::sleep_for(100ms);  // the exchange has written what fits and waits
  Response answer = client.read_response();
  EXPECT_EQ(answer.body().size(), big.size());
  EXPECT_TRUE(answer.body() == big);
  EXPECT_EQ(client.post("again").body().size(), big.size());  // the connection goes on
}

TEST(HttpExchange, AClientThatTakesNoAnswerIsClosedAfterTheWriteTimeout) {
  auto config = config_with();
  config.write_timeout = 200ms;
  ExchangeFixture fixture(std::move(config));
  std::string big(8 * 1024 * 1024, 'b');
  fixture.respond([&](const Frame& frame, std::string&) -> std::optional<HttpReply> {
    return HttpReply{frame.id, 200, "application/octet-stream", big};
  });
  HttpClient client(fixture.port());
  client.send_raw("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
  std::this_thread::sleep_for(600ms);  // reads nothing meanwhile
  std::size_t received = 0;
  boost::system::error_code error;
  std::vector<char> chunk(64 * 1024);
  while (!error && received < big.size()) {  // the whole answer is more: a connection left open ends the loop too
    received += client.socket().read_some(asio::buffer(chunk), error);
  }
  EXPECT_TRUE(error == asio::error::eof || error == asio::error::connection_reset) << error.message();
  EXPECT_LT(received, big.size());  // cut off, not written whole
}

TEST(HttpExchange, StatusesWithoutBodyHaveNoContentLengthAndAReplyGivingThemOneIs500) {
  ExchangeFixture fixture(config_with());
  fixture.respond([](const Frame& frame, std::string&) -> std::optional<HttpReply> {
    return HttpReply{frame.id, 204, "", frame.body == "empty" ? "" : "not empty"};
  });
  HttpClient client(fixture.port());
  client.send_raw("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nempty");
  http::response_parser<http::string_body> parser;
  beast::flat_buffer buffer;
  http::read(client.socket(), buffer, parser);
  EXPECT_EQ(parser.get().result_int(), 204U);
  EXPECT_EQ(parser.get().count(http::field::content_length), 0U);
  EXPECT_EQ(client.post("full").result_int(), 500U);
  EXPECT_TRUE(LogCapture::instance().wait_for(
      "sink 'replies': the reply to request " + std::to_string(fixture.seen()[1].id) +
      " has status 204 and a body of 9 bytes (an answer with status 204 or 304 has no body); answered 500"));
}

TEST(HttpExchange, TwoExchangesShareOnePortWithReusePort) {
  ExchangeFixture first(config_with(true));
  auto config = config_with(true);
  config.listen.port = first.port();
  ExchangeFixture second(std::move(config));
  EXPECT_EQ(second.port(), first.port());
  first.respond([](const Frame&, std::string&) -> std::optional<HttpReply> { return std::nullopt; });
  second.respond([](const Frame&, std::string&) -> std::optional<HttpReply> { return std::nullopt; });
  for (int i = 0; i < 40; ++i) {
    HttpClient client(first.port());
    EXPECT_EQ(client.post("x", false).body(), "ok");
  }
  EXPECT_TRUE(wait_until([&] { return first.seen().size() + second.seen().size() == 40; }));
  EXPECT_GT(first.seen().size(), 0U);  // the kernel spread the connections
  EXPECT_GT(second.seen().size(), 0U);
}

}  // namespace
}  // namespace roo::io
