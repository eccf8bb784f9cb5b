// A fake DLNA MediaRenderer for the tests of web/cli/cast/dlna.js: answers SSDP M-SEARCHes
// for MediaRenderer:1 on `address`, serves a device description with an AVTransport service
// and records the SOAP actions it is sent. With `fault` ({ code, description }) it refuses
// SetAVTransportURI as a renderer does (HTTP 500 and a UPnPError), which gmediarender cannot
// be made to do.
import dgram from 'node:dgram'
import http from 'node:http'
import { randomUUID } from 'node:crypto'

const MEDIA_RENDERER = 'urn:schemas-upnp-org:device:MediaRenderer:1'
const AV_TRANSPORT = 'urn:schemas-upnp-org:service:AVTransport:1'

export async function startFakeRenderer ({ name, address, fault } = {}) {
  const udn = `uuid:${randomUUID()}`
  const actions = [] // [{ action, body }]

  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', chunk => { body += chunk })
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/description.xml') {
        res.writeHead(200, { 'content-type': 'text/xml; charset="utf-8"' })
        return res.end(description(name, udn))
      }
      if (req.method === 'POST' && req.url === '/control/avtransport') {
        const action = /#(\w+)"?$/.exec(req.headers.soapaction ?? '')?.[1]
        actions.push({ action, body })
        if (fault && action === 'SetAVTransportURI') {
          res.writeHead(500, { 'content-type': 'text/xml; charset="utf-8"' })
          return res.end(soapFault(fault))
        }
        res.writeHead(200, { 'content-type': 'text/xml; charset="utf-8"' })
        return res.end(soapAnswer(action))
      }
      res.writeHead(404).end()
    })
  })
  await new Promise(resolve => server.listen(0, address, resolve))
  const location = `http://${address}:${server.address().port}/description.xml`

  // Port 1900 is shared (reuseAddr) with any other renderer in the namespace.
  const ssdp = dgram.createSocket({ type: 'udp4', reuseAddr: true })
  ssdp.on('message', (msg, rinfo) => {
    const text = msg.toString()
    if (!text.startsWith('M-SEARCH')) return
    const st = /^st:\s*(.+?)\s*$/im.exec(text)?.[1]
    if (st !== MEDIA_RENDERER && st !== 'ssdp:all') return
    const answer = [
      'HTTP/1.1 200 OK', 'CACHE-CONTROL: max-age=1800', 'EXT:', `LOCATION: ${location}`,
      'SERVER: Linux/6 UPnP/1.0 dlna-fake/1', `ST: ${MEDIA_RENDERER}`, `USN: ${udn}::${MEDIA_RENDERER}`, '', ''
    ].join('\r\n')
    ssdp.send(answer, rinfo.port, rinfo.address)
  })
  await new Promise(resolve => ssdp.bind(1900, resolve))
  ssdp.addMembership('239.255.255.250', address)

  return {
    name,
    location,
    actions,
    close () {
      ssdp.close()
      server.closeAllConnections()
      return new Promise(resolve => server.close(resolve))
    }
  }
}

function description (name, udn) {
  return `<?xml version="1.0" encoding="utf-8"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>0</minor></specVersion>
  <device>
    <deviceType>${MEDIA_RENDERER}</deviceType>
    <friendlyName>${escapeXml(name)}</friendlyName>
    <manufacturer>wasmtorrent tests</manufacturer>
    <modelName>dlna-fake</modelName>
    <UDN>${udn}</UDN>
    <serviceList>
      <service>
        <serviceType>urn:schemas-upnp-org:service:ConnectionManager:1</serviceType>
        <serviceId>urn:upnp-org:serviceId:ConnectionManager</serviceId>
        <SCPDURL>/connmgr.xml</SCPDURL>
        <controlURL>/control/connmgr</controlURL>
        <eventSubURL>/event/connmgr</eventSubURL>
      </service>
      <service>
        <serviceType>${AV_TRANSPORT}</serviceType>
        <serviceId>urn:upnp-org:serviceId:AVTransport</serviceId>
        <SCPDURL>/avtransport.xml</SCPDURL>
        <controlURL>control/avtransport</controlURL>
        <eventSubURL>/event/avtransport</eventSubURL>
      </service>
    </serviceList>
  </device>
</root>`
}

function soapAnswer (action) {
  return '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' +
    `<u:${action}Response xmlns:u="${AV_TRANSPORT}"/></s:Body></s:Envelope>`
}

function soapFault ({ code, description }) {
  return '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault>' +
    '<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>' +
    `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode>` +
    `<errorDescription>${escapeXml(description)}</errorDescription></UPnPError>` +
    '</detail></s:Fault></s:Body></s:Envelope>'
}

function escapeXml (s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
