using VirtioScope.Virtio.Events;
using VirtioScope.Virtio.Queues;

namespace VirtioScope.Virtio.Transport;

public sealed partial class MmioTransport
{
    private void WriteStatus(uint value)
    {
        if (value > byte.MaxValue)
        {
            Fault($"Status written with 0x{value:x}: status is 8 bits");
            return;
        }
        var requested = (DeviceStatus)value;
        DeviceStatus old = _status;
        if (requested == DeviceStatus.None)
        {
            ResetDevice();
            PublishStatus(old);
            return;
        }
        // DEVICE_NEEDS_RESET belongs to the device: the driver neither sets nor clears it.
        DeviceStatus driverBits = old & ~DeviceStatus.DeviceNeedsReset;
        requested &= ~DeviceStatus.DeviceNeedsReset;
        if ((driverBits & ~requested) != 0)
        {
            Fault($"Status written as {requested}, clearing {driverBits & ~requested}; only a reset (0) clears status bits");
            return;
        }
        DeviceStatus added = requested & ~driverBits;
        if ((added & DeviceStatus.Failed) != 0)
        {
            _status |= DeviceStatus.Failed;
            added &= ~DeviceStatus.Failed;
        }
        DeviceStatus accepted = AcceptStatusBits(added);
        _status |= accepted;
        if ((accepted & DeviceStatus.DriverOk) != 0)
        {
            ActivateDevice();
        }
        PublishStatus(old);
    }

    /// <summary>Applies the spec's ordering rules (3.1.1); bits out of order are refused one by one.</summary>
    private DeviceStatus AcceptStatusBits(DeviceStatus added)
    {
        DeviceStatus have = _status;
        DeviceStatus accepted = DeviceStatus.None;
        if ((added & DeviceStatus.Acknowledge) != 0)
        {
            accepted |= DeviceStatus.Acknowledge;
        }
        if ((added & DeviceStatus.Driver) != 0)
        {
            if (((have | accepted) & DeviceStatus.Acknowledge) == 0)
            {
                Fault("DRIVER set before ACKNOWLEDGE");
                return accepted;
            }
            accepted |= DeviceStatus.Driver;
        }
        if ((added & DeviceStatus.FeaturesOk) != 0)
        {
            if (((have | accepted) & DeviceStatus.Driver) == 0)
            {
                Fault("FEATURES_OK set before DRIVER");
                return accepted;
            }
            if (RefuseFeatures() is { } reason)
            {
                // Left clear: the driver reads Status back and sees that the device refused (3.1.1 step 6).
                Fault($"FEATURES_OK refused: {reason}");
                return accepted;
            }
            accepted |= DeviceStatus.FeaturesOk;
        }
        if ((added & DeviceStatus.DriverOk) != 0)
        {
            bool modern = Options.Version == MmioVersion.Modern;
            if (((have | accepted) & DeviceStatus.Driver) == 0 || (modern && ((have | accepted) & DeviceStatus.FeaturesOk) == 0))
            {
                Fault(modern ? "DRIVER_OK set before FEATURES_OK" : "DRIVER_OK set before DRIVER");
                return accepted;
            }
            if (!modern && RefuseFeatures() is { } reason)
            {
                // Legacy drivers have no FEATURES_OK step, so the check happens here.
                Fault($"legacy driver accepted features the device cannot honour: {reason}");
                accepted |= DeviceStatus.DriverOk;
                _status |= accepted;
                RequestReset(reason);
                return DeviceStatus.None;
            }
            accepted |= DeviceStatus.DriverOk;
        }
        return accepted;
    }

    private string? RefuseFeatures()
    {
        ulong unoffered = _driverFeatures & ~_offered;
        if (unoffered != 0)
        {
            return $"driver accepted feature bits 0x{unoffered:x} that were not offered";
        }
        if (Options.Version == MmioVersion.Modern && (_driverFeatures & VirtioFeatures.Version1) == 0)
        {
            return "a version 2 (non-legacy) device needs VIRTIO_F_VERSION_1";
        }
        return _device.RefuseFeatures(_driverFeatures);
    }

    private void ActivateDevice()
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            if (_queues[i].Ready || _queues[i].Pfn != 0)
            {
                ActivateQueue(i);
            }
        }
        if ((_status & DeviceStatus.DeviceNeedsReset) == 0)
        {
            _device.Activate(this);
        }
    }

    private void ActivateQueue(int index)
    {
        QueueRegisters q = _queues[index];
        QueueLayout layout = Options.Version == MmioVersion.Legacy
            ? QueueLayout.Legacy(q.Num, q.Pfn, _guestPageSize, _queueAlign)
            : new QueueLayout((NegotiatedFeatures & VirtioFeatures.RingPacked) != 0 ? RingFormat.Packed : RingFormat.Split, q.Num, q.Desc, q.Driver, q.Device);
        QueueError error = layout.Validate(Memory, _device.MaxQueueSize);
        if (error != QueueError.None)
        {
            RequestReset($"queue {index} cannot be used: {error} (size {layout.Size}, desc 0x{layout.DescTable:x}, driver 0x{layout.DriverArea:x}, device 0x{layout.DeviceArea:x})");
            return;
        }
        ulong f = NegotiatedFeatures;
        q.Live = VirtQueue.Create(layout, eventIdx: (f & VirtioFeatures.RingEventIdx) != 0, indirect: (f & VirtioFeatures.RingIndirectDesc) != 0);
    }

    private void ResetDevice()
    {
        _status = DeviceStatus.None;
        _driverFeatures = 0;
        _deviceFeaturesSel = 0;
        _driverFeaturesSel = 0;
        _queueSel = 0;
        _shmSel = 0;
        _interruptStatus = 0;
        _pendingInterrupt = false;
        foreach (QueueRegisters q in _queues)
        {
            q.Reset();
        }
        _device.Reset();
    }

    private void PublishStatus(DeviceStatus old)
    {
        if (Events.Enabled && old != _status)
        {
            Events.Publish(new StatusChangeEvent(old, _status));
        }
    }

    /// <inheritdoc />
    public void SignalUsed(int queue)
    {
        VirtQueue? q = Queue(queue);
        if (q is null)
        {
            return;
        }
        if (q.NeedsInterrupt(Memory))
        {
            Statistics.InterruptsRaised++;
            RaiseInterrupt(MmioRegisters.InterruptUsedBuffer, queue);
        }
        else
        {
            Statistics.InterruptsSuppressed++;
            if (Events.Enabled)
            {
                Events.Publish(new InterruptEvent(queue, MmioRegisters.InterruptUsedBuffer, Suppressed: true));
            }
        }
    }

    /// <inheritdoc />
    public void RequestReset(string reason)
    {
        Fault($"device needs reset: {reason}");
        if ((_status & DeviceStatus.DeviceNeedsReset) != 0)
        {
            return;
        }
        DeviceStatus old = _status;
        _status |= DeviceStatus.DeviceNeedsReset;
        Statistics.NeedsResetCount++;
        PublishStatus(old);
        RaiseInterrupt(MmioRegisters.InterruptConfigChange, queue: -1);
    }

    private void RaiseInterrupt(uint reason, int queue)
    {
        _interruptStatus |= reason;
        if (reason == MmioRegisters.InterruptConfigChange)
        {
            Statistics.ConfigInterrupts++;
        }
        if (Events.Enabled)
        {
            Events.Publish(new InterruptEvent(queue, reason, Suppressed: false));
        }
        _pendingInterrupt = true;
        if (_depth == 0)
        {
            _pendingInterrupt = false;
            InterruptRaised?.Invoke();
        }
    }
}
