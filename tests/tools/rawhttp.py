#!/usr/bin/python3
"""Sends bytes to an HTTP server exactly as given, and prints its answer.

usage: rawhttp.py HOST:PORT REQUEST

REQUEST is the request's bytes with Python escapes (\\r, \\n, \\0, \\xHH), so
a test can send what no HTTP client would: a NUL inside a header, a
malformed request line, an unknown method, raw bytes that are not UTF-8.
The answer is read until the server closes the connection or, when it
keeps the connection open, until the body its Content-Length announces
has arrived.  Prints one JSON object: {"status", "contentType", "body",
"connectionClose"}; status is 0 when no answer came within 5 s.
"""
import codecs
import json
import socket
import sys


def answer_complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    request = codecs.escape_decode(sys.argv[2].encode())[0]
    s = socket.create_connection((host, int(port)), timeout=5)
    data = b""
    try:
        s.sendall(request)
        while not answer_complete(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status, ctype, close = 0, "", False
    if lines and lines[0].startswith(b"HTTP/"):
        parts = lines[0].split(b" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-type":
            ctype = value.strip().decode("latin-1")
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    print(json.dumps({"status": status, "contentType": ctype,
                      "body": body.decode("utf-8", errors="replace"),
                      "connectionClose": close}))


if __name__ == "__main__":
    main()
