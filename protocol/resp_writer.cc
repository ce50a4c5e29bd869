#include "protocol/resp_writer.h"

namespace prefixcache::protocol {

// Status and error lines cannot carry CR or LF (they would end the RESP line early and let
// the rest be read as another reply); like Redis, they become spaces.
void ReplyBuilder::Line(char prefix, std::string_view text) {
  Copy({&prefix, 1});
  for (std::size_t at = 0;;) {
    const std::size_t line_break = text.find_first_of("\r\n", at);
    Copy(text.substr(at, line_break - at));
    if (line_break == std::string_view::npos) break;
    Copy(" ");
    at = line_break + 1;
  }
  Copy("\r\n");
}

void ReplyBuilder::SimpleString(std::string_view text) { Line('+', text); }

void ReplyBuilder::Error(std::string_view message) { Line('-', message); }

void ReplyBuilder::Integer(std::int64_t value) { Header(':', value); }

void ReplyBuilder::Bulk(std::string_view bytes) {
  Header('$', static_cast<std::int64_t>(bytes.size()));
  Copy(bytes);
  Copy("\r\n");
}

void ReplyBuilder::Bulk(const Buffer& bytes) {
  Header('$', static_cast<std::int64_t>(bytes.size()));
  Reference(bytes);
  Copy("\r\n");
}

void ReplyBuilder::Nil() { Copy(resp3_ ? "_\r\n" : "$-1\r\n"); }

void ReplyBuilder::NilArray() { Copy(resp3_ ? "_\r\n" : "*-1\r\n"); }

void ReplyBuilder::ArrayHeader(std::size_t count) { Header('*', static_cast<std::int64_t>(count)); }

void ReplyBuilder::MapHeader(std::size_t pairs) {
  if (resp3_) return Header('%', static_cast<std::int64_t>(pairs));
  Header('*', static_cast<std::int64_t>(2 * pairs));
}

void ReplyBuilder::SetHeader(std::size_t count) {
  Header(resp3_ ? '~' : '*', static_cast<std::int64_t>(count));
}

void ReplyBuilder::Verbatim(std::string_view text) {
  if (!resp3_) return Bulk(text);
  Header('=', static_cast<std::int64_t>(text.size() + 4));
  Copy("txt:");
  Copy(text);
  Copy("\r\n");
}

}  // namespace prefixcache::protocol
