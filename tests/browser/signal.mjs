// Page-side helpers for connecting two pages with a data channel without any tracker: the
// test passes the SDP between them (page.evaluate). Non-trickle: each side waits for ICE
// gathering to complete. Used with torrent.addPeer(channel).
//
//   const sdp = await a.evaluate(offerChannel, 'name')      // window.channels.name in A
//   const answer = await b.evaluate(answerChannel, { sdp, name: 'name' }) // in B, on arrival
//   await a.evaluate(acceptAnswer, { sdp: answer, name: 'name' })
// In B, window.onChannel(name, channel) (if set) gets the channel as soon as it arrives,
// before any message can be lost; window.channels[name] holds it too.

export async function offerChannel (name) {
  const pc = new RTCPeerConnection({ iceServers: [] })
  window.channels ??= {}
  window.pcs ??= {}
  window.channels[name] = pc.createDataChannel(name)
  window.pcs[name] = pc
  await pc.setLocalDescription(await pc.createOffer())
  await new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') resolve()
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve()
  })
  return pc.localDescription.sdp
}

export async function answerChannel ({ sdp, name }) {
  const pc = new RTCPeerConnection({ iceServers: [] })
  window.channels ??= {}
  window.pcs ??= {}
  window.pcs[name] = pc
  pc.ondatachannel = e => {
    window.channels[name] = e.channel
    window.onChannel?.(name, e.channel)
  }
  await pc.setRemoteDescription({ type: 'offer', sdp })
  await pc.setLocalDescription(await pc.createAnswer())
  await new Promise(resolve => {
    if (pc.iceGatheringState === 'complete') resolve()
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve()
  })
  return pc.localDescription.sdp
}

export async function acceptAnswer ({ sdp, name }) {
  await window.pcs[name].setRemoteDescription({ type: 'answer', sdp })
}
