import { useEffect, useRef, useState } from 'react';

export const cameraScanSupported = () => typeof window !== 'undefined' && 'BarcodeDetector' in window && Boolean(navigator.mediaDevices?.getUserMedia);

/** Camera QR scanning with the browser's own BarcodeDetector; calls `onCode` with each code seen. */
export default function Scanner({ onCode }) {
  const videoRef = useRef(null);
  const [active, setActive] = useState(false);
  const [error, setError] = useState(null);
  const onCodeRef = useRef(onCode);
  onCodeRef.current = onCode;

  useEffect(() => {
    if (!active) return undefined;
    let stream = null;
    let timer = null;
    let stopped = false;
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });

    async function tick() {
      if (stopped) return;
      const video = videoRef.current;
      if (video && video.readyState >= 2) {
        try {
          const found = await detector.detect(video);
          if (found[0]?.rawValue) onCodeRef.current(found[0].rawValue);
        } catch {
          // A frame that cannot be read: try the next one.
        }
      }
      timer = setTimeout(tick, 250);
    }

    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then((s) => {
        if (stopped) {
          s.getTracks().forEach((t) => t.stop());
          return;
        }
        stream = s;
        videoRef.current.srcObject = s;
        return videoRef.current.play().then(tick);
      })
      .catch((err) => {
        setError(err?.name === 'NotAllowedError' ? 'Camera access was refused. Enter codes by hand below.' : 'The camera could not be started. Enter codes by hand below.');
        setActive(false);
      });

    return () => {
      stopped = true;
      clearTimeout(timer);
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [active]);

  return (
    <div className="scanner card">
      <h2>Scan with the camera</h2>
      <div className={active ? 'video-wrap' : 'video-wrap hidden'}>
        <video ref={videoRef} muted playsInline aria-label="Camera preview" />
      </div>
      {error && <p className="error-text">{error}</p>}
      <button
        type="button"
        className="secondary"
        onClick={() => {
          setError(null);
          setActive((a) => !a);
        }}
      >
        {active ? 'Stop camera' : 'Start camera'}
      </button>
    </div>
  );
}
