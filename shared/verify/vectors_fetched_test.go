package verify

import "strings"

// The fetched-key families' vectors: requests signed with openssl by the
// providers' documented recipes, under test certificates that the
// vector's transport serves at the providers' real certificate URLs.
const (
	snsTestCert = `-----BEGIN CERTIFICATE-----
MIIDGTCCAgGgAwIBAgIUS9EN2z21s9XYefl4vTZaDPh7YoUwDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRc25zLmFtYXpvbmF3cy5jb20wHhcNMjYxMjA0MjAwNjI0
WhcNNDYxMTI5MjAwNjI0WjAcMRowGAYDVQQDDBFzbnMuYW1hem9uYXdzLmNvbTCC
ASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAOofwdDH0ikKzKQLH9oIoQ9Y
MHbn8ikHYdDo0bscfsWmyLui4tCoyI87K1RRX26QJxu6NcL9Q3PnM6ctxikd1HBP
Y+ybQg4L4+lS6U7bMInllCYIDAm87y+E23rJcH1gUpmbDmnn2eyuzNu16eLcK2FZ
1iyzMmifTn1ki9lIxIBvBKEa064zKtYk65G1P6JnmsIdSUpQGyLmDSSh81l4/mN6
byNMoUeLRZQDuQwrQChg9rfNYBQgLMpmCt5y7DRMw1JQPggBpJTZ9kjknpD6hzy8
IPfc6NDgjMeBzJldGYDnGmhqEY10paMvmCLrzZc4CaL8y6pCNVK6U3emOlBVk/MC
AwEAAaNTMFEwHQYDVR0OBBYEFHtWIq6wgwdI/n7Lb5GUbANXZRo9MB8GA1UdIwQY
MBaAFHtWIq6wgwdI/n7Lb5GUbANXZRo9MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZI
hvcNAQELBQADggEBAHHcqVVdUiNkOelCJAy7DGN7Nw5V8+6AbH54FtRr/+JC9Us/
qIPhURQQYTQ6akgRiu9KE/2klVf755n0TUHpu+dr2AEUNl1Xmcp8Ota0/FJibSxq
CoafZfBvQZzt+bS8kvrVrKe3V/4fVGnbHGPakaARDglntvYa9tyL6tFDg+akgoJ7
YBOlzPVuIqPgsdskIxUEUcTWBGAFo1Q+gsE2kJEiO437JZrF9be2l+6jePP/FPQs
iKeizIxDvU7Ztc6b9gQy9Ite7SHeYVTO449wdf9Zan6VPfqjrOk4tAnN/z0OT5jE
5F5mRB2S0luk1wnqTmKHkc8uyFfJRs1t3KYgAok=
-----END CERTIFICATE-----`
	snsTestCertURL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
	paypalTestCert = `-----BEGIN CERTIFICATE-----
MIIDPTCCAiWgAwIBAgIUE0VDdq7Ros+WmLkdD7j8jmBoznAwDQYJKoZIhvcNAQEL
BQAwLjEsMCoGA1UEAwwjbWVzc2FnZXZlcmlmaWNhdGlvbmNlcnRzLnBheXBhbC5j
b20wHhcNMjYxMjA0MjAwNjI0WhcNNDYxMTI5MjAwNjI0WjAuMSwwKgYDVQQDDCNt
ZXNzYWdldmVyaWZpY2F0aW9uY2VydHMucGF5cGFsLmNvbTCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBALGYRPR7o9qKVf0U+LorAyvr81tNPT8z7oimsfq9
JTS/ZgQnRyh0rxv268ipRoZxK6nfKJkGJ7TN0gsnmOI4Bw6u8rNDmPZFrhc/nRJo
t2YInq70/vruOpnzI0oI9dlS1088DOAJ+LBwfZ7a985iVyk9yO1NnNYbUQyyVMO/
IDzeMNWn54gNqplXToed9MY6KD5pcZWh6R2LeHWBsodBAwcAYSCYURvzvGxZkK5j
AIYb3D71MakU1m065JVDc1E9CRSJoINoPxr6H4sOQmLmlAWwdSrZWiOTy7EOlQyU
QfB3K6M07Vyy51Vz5wya9EGvFKylxh1cwWTATVXt/F6ei+kCAwEAAaNTMFEwHQYD
VR0OBBYEFNWUSK6awGxbfStQ2kJ8oz9YVIhhMB8GA1UdIwQYMBaAFNWUSK6awGxb
fStQ2kJ8oz9YVIhhMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEB
AKHtWs/FVjl5FfsKTLW77sNZrN01wA3abopVXa9CHg7WMr8lqEEEAqcFHzicD7hU
d9v9c5DpMtijXL0YdVlOcBfiw5ZJhyCmDaN54R+nvB6RRi19OGaBiA/q4wTRBXeI
Y6Qa+vBZWsMGUicafGygUkGY3wUNMy8DSL6vSKZECqy8BJbaSNDA8cVp3itKWs7G
TRgapHkd3baNYMgBmMpxIfmApDW7Oqq6x/1jk/P8k6iwKZLQvvXodwJ8DUaIB7cF
5HOiwp05BFFC/uIQD8R+HpJrai7me+U7BBV/9aIcjwF/FHT0pKx5M5oGW5FjT/Mw
A8nI/kDeOOMFJOHz+Dq2tzE=
-----END CERTIFICATE-----`
	paypalTestCertURL = "https://api-m.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-7a8abba8"
	fetchedNow        = 1796414784
)

var snsNotification = `{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": "arn:aws:sns:us-west-2:123456789012:orders", "Subject": "orders", "Message": "{\"event\":\"order.created\",\"id\":\"o-1\"}", "Timestamp": "2026-12-04T20:06:24.000Z", "SignatureVersion": "2", "Signature": "oq1dam7gfZoVohAG5JLVAvtm3oYjZaDUH2YNhb3io6uKUM9ZHEB3DKvIrac29gz9TXw9T0u6d/1d+Q0ecfqsH4L8E+sYcDv9fegD6GM7Pui158YlvGxX9Bt+ja9FiNS8NXbYrfPrXqlK8HEj2JaY5lp1qyXj1gLZl1GSIdG9UEHKXXiMtFZnb75bgVNnjc6nb+bSAXXZZp0ena1hTl2wZeE8+o61QDOxiBTGrtvM1jF5NVfoG/ZkwjXZ9UV2RwV6SfKTh3livZHWvV0RWhIXA3Pm3lBOrANC/NLfHOW3G8ihMOX12JnbL1hVHRuNLxv6qt0AVkcL202seUl+FpwY6Q==", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem", "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:orders:c9135db0"}`

var snsConfirmation = `{"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37", "TopicArn": "arn:aws:sns:us-west-2:123456789012:orders", "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:orders. To confirm the subscription, visit the SubscribeURL included in this message.", "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:orders&Token=2336412f37", "Timestamp": "2026-12-04T20:06:24.000Z", "SignatureVersion": "1", "Signature": "IQOfEtz/pDvCn6HZaKm0Uf1efE9nPcXrle5BKFYNFDwPnckbVI/On+Ps7GF/Ss203ajBfNNbQ2hav4LytiydYVBFz0iKm04mYtl0MooqFTLXdE7lbZKJXMvHLUFpkevmQB2olF9Yg73raRl0vJzm3PI4nzSl67oqG3lSH4bd2MUyJtPv71TXm+kXFvoKaXr2wT0TZBhUyIHdpYAnyMbwZ+7qffVrvmihGEx9q3L8E+BLrLh1EcQIUNGYtogYiHfwl7xXMeyEUN92i4DqPqTzfW3boKAVgEDQTYbaj3CiDHCDUgkXtmHwR+7KHTGSxJJseaBC37qcKdsAGr/Fgtcx1A==", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"}`

const paypalBody = `{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_type":"PAYMENT.SALE.COMPLETED","resource":{"id":"80021663DE681814L"}}`

func init() {
	vectors = append(vectors,
		vector{provider: "aws-sns", key: "arn:aws:sns:us-west-2:123456789012:orders", now: fetchedNow, body: snsNotification,
			headers: map[string]string{"X-Amz-Sns-Message-Type": "Notification", "X-Amz-Sns-Message-Id": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"},
			certs:   map[string]string{snsTestCertURL: snsTestCert}, tampered: strings.Replace(snsNotification, "order.created", "order.deleted", 1),
			source: "recipe: docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html; printf 'Message\\n…Type\\nNotification\\n' | openssl dgst -sha256 -sign (SignatureVersion 2)"},
		vector{provider: "paypal", key: "1JE4291016473214C", now: fetchedNow, body: paypalBody,
			headers: map[string]string{"Paypal-Transmission-Id": "b2384410-f8d2-11ed-8d0e-7d4d4a2b1a8f", "Paypal-Transmission-Time": "2026-12-04T20:06:24.000Z",
				"Paypal-Transmission-Sig": "VcCUBtIya8p8ZsjUomhukbuxjePSCYelrziTZHMcuoDEnSRbScCGCpSUIx+OXY93ftthSxWSIUqNvnqVltwic+TWnB0b10u7bYONhuxUFZX21pA5eR4n+S+dANo+EKCoupTCWM4FGeIo9v9SKuIsQMAzQ0XDNlDLrhd67WN8eqk/G7lkHMRHsgYqKTBs9bJj+/3Kjl9o80MABiqlRjAe0e0+2eEXLF9BjIiTwo7saA7Z53UoaByioOW70iYOZNO8GiqVwfJRzNXrN+v1YtiPgOMy57dxWJuhBzTbzsNm4RuqIVJFJ+ea3/kN/dAhzUaG1RIu68nP583e09Nq/Y8Ghw==", "Paypal-Cert-Url": paypalTestCertURL, "Paypal-Auth-Algo": "SHA256withRSA"},
			certs:  map[string]string{paypalTestCertURL: paypalTestCert},
			source: "recipe: developer.paypal.com/api/rest/webhooks/rest/ (transmission_id|time|webhook_id|crc32); printf '%s|%s|%s|%s' … | openssl dgst -sha256 -sign"},
	)
}
