using System.Buffers.Binary;

namespace VirtioScope.Virtio.Transport;

public sealed partial class MmioTransport
{
    private void WriteCore(ulong offset, int width, uint value)
    {
        if (!InsideWindow(offset, width, "write"))
        {
            return;
        }
        if (offset >= MmioRegisters.Config)
        {
            WriteConfig(offset - MmioRegisters.Config, width, value);
            return;
        }
        if (!CheckRegisterAccess(offset, width, "write"))
        {
            return;
        }
        bool legacy = Options.Version == MmioVersion.Legacy;
        switch ((int)offset)
        {
            case MmioRegisters.DeviceFeaturesSel: _deviceFeaturesSel = value; break;
            case MmioRegisters.DriverFeaturesSel: _driverFeaturesSel = value; break;
            case MmioRegisters.DriverFeatures: WriteDriverFeatures(value); break;
            case MmioRegisters.QueueSel: _queueSel = value; break;
            case MmioRegisters.QueueNum: WriteQueueField((int)offset, value); break;
            case MmioRegisters.QueueNotify: Notify(value); break;
            case MmioRegisters.InterruptAck: _interruptStatus &= ~value; break;
            case MmioRegisters.Status: WriteStatus(value); break;
            case MmioRegisters.GuestPageSize when legacy: WriteGuestPageSize(value); break;
            case MmioRegisters.QueueAlign when legacy: WriteQueueAlign(value); break;
            case MmioRegisters.QueuePfn when legacy: WriteQueuePfn(value); break;
            case MmioRegisters.QueueReady when !legacy: WriteQueueReady(value); break;
            case MmioRegisters.QueueDescLow when !legacy: WriteQueueField((int)offset, value); break;
            case MmioRegisters.QueueDescHigh when !legacy: WriteQueueField((int)offset, value); break;
            case MmioRegisters.QueueDriverLow when !legacy: WriteQueueField((int)offset, value); break;
            case MmioRegisters.QueueDriverHigh when !legacy: WriteQueueField((int)offset, value); break;
            case MmioRegisters.QueueDeviceLow when !legacy: WriteQueueField((int)offset, value); break;
            case MmioRegisters.QueueDeviceHigh when !legacy: WriteQueueField((int)offset, value); break;
            case MmioRegisters.ShmSel when !legacy: _shmSel = value; break;
            case MmioRegisters.QueueReset when !legacy: WriteQueueReset(value); break;
            default:
                Fault($"write of 0x{value:x} to {(IsReadOnly((int)offset) ? "read-only register" : "unknown register")} {MmioRegisters.Name((int)offset)}");
                break;
        }
    }

    private static bool IsReadOnly(int offset) => offset is MmioRegisters.MagicValue or MmioRegisters.Version or MmioRegisters.DeviceId
        or MmioRegisters.VendorId or MmioRegisters.DeviceFeatures or MmioRegisters.QueueNumMax or MmioRegisters.InterruptStatus
        or MmioRegisters.ShmLenLow or MmioRegisters.ShmLenHigh or MmioRegisters.ShmBaseLow or MmioRegisters.ShmBaseHigh
        or MmioRegisters.ConfigGeneration;

    private void WriteConfig(ulong configOffset, int width, uint value)
    {
        if (!CheckConfigAccess(configOffset, width, "write"))
        {
            return;
        }
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        _device.WriteConfig((int)configOffset, buffer[..width]);
    }

    private void WriteDriverFeatures(uint value)
    {
        if ((_status & DeviceStatus.FeaturesOk) != 0 || (_status & DeviceStatus.Driver) == 0)
        {
            Fault($"DriverFeatures written in status {_status}: features are negotiated after DRIVER and before FEATURES_OK");
            return;
        }
        if (_driverFeaturesSel > 1)
        {
            if (value != 0)
            {
                Fault($"DriverFeatures word {_driverFeaturesSel} written with 0x{value:x}: no such feature bits exist");
            }
            return;
        }
        int shift = (int)(32 * _driverFeaturesSel);
        _driverFeatures = (_driverFeatures & ~(0xffff_ffffUL << shift)) | ((ulong)value << shift);
    }

    /// <summary>Queue configuration registers may change only while the selected queue is disabled.</summary>
    /// <remarks>A plain switch, not delegates: a lambda capturing the value would allocate on every register write.</remarks>
    private void WriteQueueField(int offset, uint value)
    {
        string name = MmioRegisters.Name(offset);
        if (_queueSel >= _queues.Length)
        {
            Fault($"{name} written for queue {_queueSel}, which does not exist");
            return;
        }
        QueueRegisters q = _queues[_queueSel];
        if (q.Ready || q.Pfn != 0)
        {
            Fault($"{name} written for queue {_queueSel} while it is enabled");
            return;
        }
        switch (offset)
        {
            case MmioRegisters.QueueNum:
                if (value > ushort.MaxValue)
                {
                    Fault($"QueueNum of {value} for queue {_queueSel} is above the largest possible queue size");
                }
                q.Num = (ushort)Math.Min(value, ushort.MaxValue);
                break;
            case MmioRegisters.QueueDescLow: q.Desc = QueueRegisters.SetLow(q.Desc, value); break;
            case MmioRegisters.QueueDescHigh: q.Desc = QueueRegisters.SetHigh(q.Desc, value); break;
            case MmioRegisters.QueueDriverLow: q.Driver = QueueRegisters.SetLow(q.Driver, value); break;
            case MmioRegisters.QueueDriverHigh: q.Driver = QueueRegisters.SetHigh(q.Driver, value); break;
            case MmioRegisters.QueueDeviceLow: q.Device = QueueRegisters.SetLow(q.Device, value); break;
            case MmioRegisters.QueueDeviceHigh: q.Device = QueueRegisters.SetHigh(q.Device, value); break;
        }
    }

    private void WriteQueueReady(uint value)
    {
        if (_queueSel >= _queues.Length)
        {
            Fault($"QueueReady written for queue {_queueSel}, which does not exist");
            return;
        }
        QueueRegisters q = _queues[_queueSel];
        if (value == 0)
        {
            q.Ready = false;
            q.Live = null;
            return;
        }
        if (value != 1)
        {
            Fault($"QueueReady written with {value}; only 0 and 1 are defined");
            return;
        }
        q.Ready = true;
        if ((_status & DeviceStatus.DriverOk) != 0)
        {
            // Re-enabled after a queue reset while the device runs.
            ActivateQueue((int)_queueSel);
        }
    }

    private void WriteQueueReset(uint value)
    {
        if ((NegotiatedFeatures & VirtioFeatures.RingReset) == 0)
        {
            Fault("QueueReset written but VIRTIO_F_RING_RESET was not negotiated");
            return;
        }
        if (value != 1 || _queueSel >= _queues.Length)
        {
            Fault($"QueueReset written with {value} for queue {_queueSel}");
            return;
        }
        _queues[_queueSel].Reset();
    }

    private void WriteGuestPageSize(uint value)
    {
        if (value == 0 || (value & (value - 1)) != 0)
        {
            Fault($"GuestPageSize {value} is not a power of two");
            return;
        }
        _guestPageSize = value;
    }

    private void WriteQueueAlign(uint value)
    {
        if (value == 0 || (value & (value - 1)) != 0)
        {
            Fault($"QueueAlign {value} is not a power of two");
            return;
        }
        _queueAlign = value;
    }

    private void WriteQueuePfn(uint value)
    {
        if (_queueSel >= _queues.Length)
        {
            Fault($"QueuePFN written for queue {_queueSel}, which does not exist");
            return;
        }
        QueueRegisters q = _queues[_queueSel];
        if (value == 0)
        {
            q.Reset();
            return;
        }
        if (_guestPageSize == 0)
        {
            Fault("QueuePFN written before GuestPageSize");
            return;
        }
        q.Pfn = value;
        if ((_status & DeviceStatus.DriverOk) != 0)
        {
            ActivateQueue((int)_queueSel);
        }
    }

    private void Notify(uint value)
    {
        if ((_status & DeviceStatus.DriverOk) == 0 || (_status & DeviceStatus.DeviceNeedsReset) != 0)
        {
            Fault($"QueueNotify for queue {value} in status {_status}");
            return;
        }
        if (value >= _queues.Length || _queues[value].Live is null)
        {
            Fault($"QueueNotify for queue {value}, which is not enabled");
            return;
        }
        Statistics.Notifications++;
        if (Events.Enabled)
        {
            Events.Publish(new Events.QueueNotifyEvent((int)value));
        }
        try
        {
            _device.ProcessQueue((int)value);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A device or backend bug must not unwind into the guest's store: the device stops, loudly.
            RequestReset($"queue {value}: device error {e.GetType().Name}: {e.Message}");
        }
    }
}
