import socket

import pytest


def test_sockets_and_libcurl_are_blocked_in_tests():
    with pytest.raises(RuntimeError, match='network connection'):
        socket.create_connection(("example.com", 80), timeout=1)
    from curl_cffi import requests as curl_requests
    with pytest.raises(RuntimeError, match='network connection'):
        curl_requests.Session().get("https://query2.finance.yahoo.com/")
