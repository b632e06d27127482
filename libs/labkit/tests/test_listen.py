import pytest
from pydantic import BaseModel

from labkit.listen import Listen, ListenAddress


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:3030", "127.0.0.1", 3030),
        ("[::1]:80", "::1", 80),
        (":9100", "0.0.0.0", 9100),
        ("localhost:0", "localhost", 0),
    ],
)
def test_parses_host_and_port(text: str, host: str, port: int) -> None:
    address = ListenAddress.parse(text)
    assert (address.host, address.port) == (host, port)
    assert ListenAddress.parse(str(address)) == address


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("3030", "HOST:PORT"),
        ("host:", "HOST:PORT"),
        ("host:http", "port must be a number"),
        ("host:70000", "port must be a number"),
        ("::1:80", "brackets"),
        ("[::1:80", "unclosed"),
        ("[nope]:80", "IPv6"),
    ],
)
def test_rejects_bad_addresses_saying_why(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        ListenAddress.parse(text)


def test_url_for_wildcard_points_at_loopback() -> None:
    assert ListenAddress.parse("0.0.0.0:3030").url == "http://127.0.0.1:3030"
    assert ListenAddress.parse("[::]:3030").url == "http://[::1]:3030"


def test_is_a_pydantic_field_type() -> None:
    class Model(BaseModel):
        listen: Listen

    model = Model.model_validate({"listen": "[::1]:8080"})
    assert model.listen == ListenAddress("::1", 8080)
    assert model.model_dump() == {"listen": "[::1]:8080"}
